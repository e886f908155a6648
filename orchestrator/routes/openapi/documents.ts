import { dateTime, identifierSchema, nullable, ref, type OpenApiFragment } from '../../../shared/openapi/openapi-document';

const site = { type: 'string', description: 'A site (absent: `default`)' };
const status = { type: 'string', enum: ['waiting', 'todo', 'pending', 'done', 'failed', 'canceled'] };
const ids = { type: 'array', items: identifierSchema };
const perfMap = nullable({ type: 'object', additionalProperties: { type: 'number' } });
// Documents may gain fields (sites, training): the keys below are required, others allowed.
const taskCommon = {
  uuid: identifierSchema,
  site,
  status,
  worker: nullable({ type: 'string' }),
  attempt: { type: 'integer', minimum: 0 },
  failure_reason: nullable({ type: 'string' }),
  timestamp_todo: nullable(dateTime),
  timestamp_claimed: nullable(dateTime),
  timestamp_done: nullable(dateTime),
};
const taskRequired = ['uuid', 'status', 'worker', 'attempt', 'failure_reason', 'timestamp_done'];

/** The documents of the seed's collections, as the API returns them (no `_id`). */
export const documentSchemas: OpenApiFragment = {
  paths: {},
  schemas: {
    Problem: {
      type: 'object',
      required: ['uuid', 'workflow', 'test_dataset', 'size_train_dataset', 'metric_direction', 'owner', 'timestamp_upload'],
      properties: {
        uuid: identifierSchema,
        workflow: identifierSchema,
        test_dataset: ids,
        size_train_dataset: { type: 'integer', minimum: 1 },
        metric_direction: { type: 'string', enum: ['higher', 'lower'], description: 'Whether a higher perf is better (default) or a lower one' },
        owner: { type: 'string' },
        timestamp_upload: dateTime,
        timestamp_canceled: dateTime,
        site,
      },
    },
    ProblemDetail: {
      allOf: [
        ref('Problem'),
        {
          type: 'object',
          required: ['minibatches', 'train_data_waiting'],
          properties: {
            minibatches: { type: 'integer', minimum: 0 },
            train_data_waiting: { ...ids, description: 'Train data that waits for a full minibatch' },
            sites: {
              type: 'object',
              additionalProperties: {
                type: 'object',
                required: ['minibatches', 'train_data_waiting'],
                properties: { minibatches: { type: 'integer', minimum: 0 }, train_data_waiting: ids },
              },
            },
            waiting_for: {
              type: 'array',
              items: {
                type: 'object',
                required: ['algo', 'rank', 'site', 'message'],
                properties: { algo: identifierSchema, rank: { type: 'integer' }, site: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      ],
    },
    Algo: {
      type: 'object',
      required: ['uuid', 'name', 'problem', 'owner', 'timestamp_upload'],
      properties: {
        uuid: identifierSchema,
        name: { type: 'string' },
        problem: identifierSchema,
        owner: { type: 'string' },
        timestamp_upload: dateTime,
        timestamp_canceled: dateTime,
        site,
      },
    },
    Data: {
      type: 'object',
      required: ['uuid', 'problems', 'owner', 'timestamp_upload'],
      properties: { uuid: identifierSchema, problems: ids, owner: { type: 'string' }, timestamp_upload: dateTime, upload_index: { type: 'integer' }, site },
    },
    // The training engine's tasks (orchestrator/training/engine-documents.ts); fields beyond the common ones are open.
    ProfileTask: {
      type: 'object',
      required: [...taskRequired, 'dataset', 'storage_uuid', 'site'],
      properties: { uuid: identifierSchema, dataset: identifierSchema, storage_uuid: identifierSchema, site },
    },
    Trial: {
      type: 'object',
      required: [...taskRequired, 'job', 'row', 'index', 'family', 'site'],
      properties: { uuid: identifierSchema, job: identifierSchema, row: { type: 'integer' }, index: { type: 'integer' }, family: { type: 'string' }, site },
    },
    FinalTask: {
      type: 'object',
      required: [...taskRequired, 'job', 'family', 'best_trial', 'site'],
      properties: { uuid: identifierSchema, job: identifierSchema, family: { type: 'string' }, best_trial: identifierSchema, site },
    },
    SynthesizeTask: {
      type: 'object',
      required: [...taskRequired, 'model', 'n_rows', 'seed', 'site'],
      properties: {
        uuid: identifierSchema,
        model: identifierSchema,
        n_rows: { type: 'integer' },
        seed: { type: 'integer' },
        data_storage_uuid: { type: ['string', 'null'] },
        site,
      },
    },
    TeachTask: {
      type: 'object',
      description: "A distilled job's teacher predictions on its training rows; `teacher.headers` reach only the agent holding its lease",
      required: [...taskRequired, 'job', 'teacher', 'site'],
      properties: {
        uuid: identifierSchema,
        job: identifierSchema,
        teacher: { type: 'object', required: ['kind'], properties: { kind: { type: 'string', enum: ['url', 'model'] } } },
        targets_storage_uuid: { type: ['string', 'null'] },
        site,
      },
    },
    Learnuplet: {
      type: 'object',
      required: [
        ...taskRequired,
        'problem',
        'algo',
        'workflow',
        'rank',
        'train_data',
        'test_data',
        'model_start',
        'model_end',
        'perf',
        'train_perf',
        'test_perf',
        'timestamp_creation',
      ],
      properties: {
        ...taskCommon,
        problem: identifierSchema,
        algo: identifierSchema,
        workflow: identifierSchema,
        rank: { type: 'integer', minimum: 0 },
        train_data: ids,
        test_data: ids,
        model_start: nullable({ type: 'string' }),
        model_end: { type: 'string' },
        perf: nullable({ type: 'number' }),
        train_perf: perfMap,
        test_perf: perfMap,
        timestamp_creation: dateTime,
      },
    },
    Preduplet: {
      type: 'object',
      required: [...taskRequired, 'problem', 'workflow', 'data', 'model', 'algo', 'learnuplet', 'owner', 'prediction_storage_uuid', 'timestamp_request'],
      properties: {
        ...taskCommon,
        problem: identifierSchema,
        workflow: identifierSchema,
        data: identifierSchema,
        model: { type: 'string' },
        algo: identifierSchema,
        learnuplet: identifierSchema,
        model_site: site,
        owner: { type: 'string' },
        prediction_storage_uuid: nullable({ type: 'string' }),
        timestamp_request: dateTime,
      },
    },
  },
};
