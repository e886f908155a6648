import {
  COMMON_ERRORS,
  dateTime,
  errors,
  identifierSchema,
  json,
  nullable,
  pathParam,
  queryParam,
  ref,
  type OpenApiFragment,
} from '../../../shared/openapi/openapi-document';

const datasetStatus = { type: 'string', enum: ['profiling', 'ready', 'failed'] };
const jobStatus = { type: 'string', enum: ['pending', 'running', 'completed', 'failed', 'canceled'] };
const numberMap = { type: 'object', additionalProperties: { type: 'number' } };

/** The training engine's own calls (engine-routes.ts); the front doors describe theirs in their own fragments. */
export const engineApi: OpenApiFragment = {
  tags: [{ name: 'training engine', description: 'Datasets profiled at their site, jobs compiled into leased trials, models usable for predictions' }],
  schemas: {
    Dataset: {
      type: 'object',
      required: ['dataset_id', 'name', 'storage_uuid', 'format', 'site', 'owner', 'status'],
      properties: {
        dataset_id: identifierSchema,
        name: { type: 'string' },
        storage_uuid: identifierSchema,
        format: { type: 'string', enum: ['csv'] },
        site: { type: 'string' },
        owner: { type: 'string' },
        status: datasetStatus,
        failure_reason: nullable({ type: 'string' }),
        profile: nullable({
          type: 'object',
          required: ['row_count', 'columns'],
          properties: { row_count: { type: 'integer' }, columns: { type: 'array', items: { type: 'object' } } },
        }),
        profile_task: { type: 'string' },
        timestamp_upload: dateTime,
        timestamp_ready: nullable(dateTime),
      },
    },
    Job: {
      type: 'object',
      required: ['job', 'progress', 'trials'],
      properties: {
        job: {
          type: 'object',
          required: ['job_id', 'dataset_id', 'status'],
          properties: { job_id: identifierSchema, dataset_id: identifierSchema, status: jobStatus, model_id: nullable({ type: 'string' }) },
        },
        progress: {
          type: 'object',
          required: ['trials_done', 'trials_total'],
          properties: {
            trials_done: { type: 'integer' },
            trials_failed: { type: 'integer' },
            trials_total: { type: 'integer' },
            elapsed_seconds: { type: 'number' },
            estimate_seconds: nullable({ type: 'number' }),
          },
        },
        trials: {
          type: 'array',
          items: {
            type: 'object',
            required: ['trial', 'row', 'index', 'family', 'status'],
            properties: {
              trial: { type: 'string' },
              row: { type: 'integer' },
              index: { type: 'integer' },
              family: { type: 'string' },
              status: { type: 'string' },
              metrics: nullable(numberMap),
            },
          },
        },
      },
    },
    Model: {
      type: 'object',
      required: ['model_id', 'job', 'dataset_id', 'family', 'task_kind', 'label_column', 'model_storage_uuid'],
      properties: {
        model_id: identifierSchema,
        job: identifierSchema,
        dataset_id: identifierSchema,
        owner: { type: 'string' },
        site: { type: 'string' },
        family: { type: 'string' },
        params: { type: 'object' },
        label_column: { type: 'string' },
        task_kind: { type: 'string', enum: ['classification', 'regression'] },
        schema: { type: 'object' },
        report: { type: 'object' },
        model_storage_uuid: { type: 'string' },
        best_trial: { type: 'string' },
        timestamp_creation: dateTime,
      },
    },
  },
  paths: {
    '/v1/datasets': {
      post: {
        operationId: 'registerDataset',
        summary: 'Register a CSV already uploaded to a gateway; it is profiled at its site',
        tags: ['training engine'],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name', 'storage_uuid'],
                properties: { name: { type: 'string' }, storage_uuid: identifierSchema, format: { type: 'string', enum: ['csv'] }, site: { type: 'string' } },
              },
            },
          },
        },
        responses: {
          201: json('Registered; profiling', {
            type: 'object',
            required: ['dataset_id', 'status'],
            properties: { dataset_id: identifierSchema, status: datasetStatus, failure_reason: { type: 'string' } },
          }),
          ...errors(...COMMON_ERRORS, 409, 422),
        },
      },
      get: {
        operationId: 'listDatasets',
        summary: "The caller's datasets",
        tags: ['training engine'],
        parameters: [
          queryParam('limit', 'Page size', { type: 'integer', minimum: 1, maximum: 1000 }),
          queryParam('offset', 'Skip', { type: 'integer', minimum: 0 }),
        ],
        responses: {
          200: json('A page', {
            type: 'object',
            required: ['datasets'],
            properties: { datasets: { type: 'array', items: ref('Dataset') }, limit: { type: 'integer' }, offset: { type: 'integer' } },
          }),
          ...errors(...COMMON_ERRORS),
        },
      },
    },
    '/v1/datasets/{id}': {
      get: {
        operationId: 'getDataset',
        summary: 'A dataset, with its profile once ready (never rows)',
        tags: ['training engine'],
        parameters: [pathParam('id', 'The dataset')],
        responses: { 200: json('The dataset', ref('Dataset')), ...errors(...COMMON_ERRORS) },
      },
    },
    '/v1/jobs': {
      get: {
        operationId: 'listJobs',
        summary: "The caller's jobs (an admin's: all), newest first, without their profiles",
        tags: ['training engine'],
        parameters: [
          queryParam('dataset_id', 'Only the jobs of this dataset', identifierSchema),
          queryParam('limit', 'Page size', { type: 'integer', minimum: 1, maximum: 1000 }),
          queryParam('offset', 'Skip', { type: 'integer', minimum: 0 }),
        ],
        responses: {
          200: json('A page', {
            type: 'object',
            required: ['jobs'],
            properties: {
              jobs: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['job_id', 'dataset_id', 'status'],
                  properties: {
                    job_id: identifierSchema,
                    dataset_id: identifierSchema,
                    owner: { type: 'string' },
                    site: { type: 'string' },
                    status: jobStatus,
                    failure_reason: nullable({ type: 'string' }),
                    label_column: { type: 'string' },
                    task_kind: { type: 'string', enum: ['classification', 'regression'] },
                    families: { type: 'array', items: { type: 'string' } },
                    metrics: { type: 'array', items: { type: 'string' } },
                    n_trials: { type: 'integer' },
                    model_id: nullable({ type: 'string' }),
                    timestamp_creation: dateTime,
                    timestamp_done: nullable(dateTime),
                  },
                },
              },
              limit: { type: 'integer' },
              offset: { type: 'integer' },
            },
          }),
          ...errors(...COMMON_ERRORS),
        },
      },
      post: {
        operationId: 'submitJob',
        summary: "Submit an engine job (the engine's own request; users go through the front doors)",
        tags: ['training engine'],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', required: ['dataset_id'] } } } },
        responses: {
          201: json('Submitted', {
            type: 'object',
            required: ['job_id', 'status', 'dataset_id'],
            properties: { job_id: identifierSchema, status: jobStatus, dataset_id: identifierSchema },
          }),
          ...errors(...COMMON_ERRORS, 409, 422),
        },
      },
    },
    '/v1/jobs/{id}': {
      get: {
        operationId: 'getJob',
        summary: 'A job with its progress and trials',
        tags: ['training engine'],
        parameters: [pathParam('id', 'The job')],
        responses: { 200: json('The job', ref('Job')), ...errors(...COMMON_ERRORS) },
      },
    },
    '/v1/jobs/{id}/cancel': {
      post: {
        operationId: 'cancelJob',
        summary: 'Cancel a job: queued trials withdrawn, running ones stopped at their next heartbeat',
        tags: ['training engine'],
        parameters: [pathParam('id', 'The job')],
        responses: {
          200: json('Canceled (or already ended)', {
            type: 'object',
            required: ['job_id', 'status'],
            properties: { job_id: identifierSchema, status: jobStatus },
          }),
          ...errors(...COMMON_ERRORS, 409),
        },
      },
    },
    '/v1/models/{id}': {
      get: {
        operationId: 'getModel',
        summary: "A job's model: family, parameters, report, where its blob is",
        tags: ['training engine'],
        parameters: [pathParam('id', 'The model')],
        responses: { 200: json('The model', ref('Model')), ...errors(...COMMON_ERRORS) },
      },
    },
  },
};
