import { COMMON_ERRORS, errors, identifierSchema, json, nullable, pathParam, ref, type OpenApiFragment } from '../../../shared/openapi/openapi-document';

const runStatus = { type: 'string', enum: ['pending', 'running', 'completed', 'failed'] };
const numberMap = { type: 'object', additionalProperties: { type: 'number' } };
const summaryProps = { job_id: identifierSchema, status: runStatus, message: nullable({ type: 'string' }), dataset_id: identifierSchema };
const summary = { type: 'object', required: ['job_id', 'status', 'message', 'dataset_id'], properties: summaryProps };
const filter = {
  type: 'object',
  required: ['col'],
  properties: { col: { type: 'string' }, kind: { type: 'string', enum: ['cmp'] }, op: { type: 'string' }, value: {} },
};
const path = [pathParam('job_id', 'The job')];

/** Seed 004's trainer run (trainer-routes.ts): a thin front door on the training engine. */
export const trainerApi: OpenApiFragment = {
  tags: [{ name: 'trainer', description: 'Seed 004: HPO across a model matrix (model type × metric weighting), k-fold, Pareto sweeps, ensembles' }],
  schemas: {
    TrainerRunRequest: {
      type: 'object',
      required: ['dataset_id', 'task'],
      properties: {
        dataset_id: identifierSchema,
        filter: nullable({ oneOf: [filter, { type: 'array', items: filter }] }),
        task: {
          type: 'object',
          required: ['label_column', 'task_kind'],
          properties: { label_column: { type: 'string' }, task_kind: { type: 'string', enum: ['classification', 'regression'] } },
        },
        model_types: nullable({ type: 'array', items: { type: 'string' } }),
        metrics: nullable({ type: 'array', items: { type: 'string' } }),
        strategy: { type: 'string', enum: ['optuna', 'random'], default: 'optuna' },
        n_trials: { type: 'integer', minimum: 1, default: 4 },
        n_splits: nullable({ type: 'integer', minimum: 2 }),
        ensemble: { type: 'boolean', default: false },
        grid_size: nullable({ type: 'integer', minimum: 1 }),
        teacher_model_id: nullable({ type: 'string' }),
        teacher_predict_url: nullable({ type: 'string' }),
        teacher_predict_headers: nullable({ type: 'object', additionalProperties: { type: 'string' } }),
        random_state: { type: 'integer', default: 42 },
      },
    },
    TrainerJob: {
      type: 'object',
      required: ['job_id', 'status', 'message', 'dataset_id', 'progress', 'trials', 'leaderboard', 'pareto_front', 'final_model'],
      properties: {
        ...summaryProps,
        metrics: { type: 'array', items: { type: 'string' } },
        model_types: { type: 'array', items: { type: 'string' } },
        teacher: nullable({
          type: 'object',
          description: 'Distillation: the teacher kind, its teach task (status, failure reason) and the training rows it predicted; never its URL or headers',
          required: ['kind', 'status', 'rows'],
          properties: {
            kind: { type: 'string', enum: ['url', 'model'] },
            model_id: nullable({ type: 'string' }),
            status: { type: 'string' },
            failure_reason: nullable({ type: 'string' }),
            rows: nullable({ type: 'integer' }),
          },
        }),
        progress: {
          type: 'object',
          required: ['trials_done', 'trials_total'],
          properties: { trials_done: { type: 'integer' }, trials_failed: { type: 'integer' }, trials_total: { type: 'integer' } },
        },
        trials: {
          type: 'array',
          items: {
            type: 'object',
            required: ['trial', 'row', 'index', 'family', 'status', 'params', 'metrics'],
            properties: {
              trial: { type: 'string' },
              row: { type: 'integer' },
              index: { type: 'integer' },
              family: { type: 'string' },
              status: { type: 'string' },
              params: nullable({ type: 'object' }),
              metrics: nullable(numberMap),
              objective: nullable({ type: 'number' }),
            },
          },
        },
        leaderboard: {
          type: 'array',
          items: {
            type: 'object',
            required: ['row', 'family', 'weights', 'trials'],
            properties: { row: { type: 'integer' }, family: { type: 'string' }, weights: numberMap, trials: { type: 'array', items: { type: 'object' } } },
          },
        },
        pareto_front: nullable({
          type: 'array',
          items: {
            type: 'object',
            required: ['trial', 'metrics'],
            properties: { trial: { type: 'string' }, row: { type: 'integer' }, family: { type: 'string' }, metrics: numberMap, params: { type: 'object' } },
          },
        }),
        final_model: nullable({
          type: 'object',
          required: ['model_id', 'kind', 'report'],
          properties: {
            model_id: { type: 'string' },
            family: { type: 'string' },
            kind: { type: 'string' },
            params: { type: 'object' },
            best_trial: { type: 'string' },
            report: { type: 'object' },
          },
        }),
      },
    },
  },
  paths: {
    '/v1/trainer/run': {
      post: {
        operationId: 'trainerRun',
        summary: 'Start a study: model types × metric weightings, n_trials per row, then a refit or an ensemble',
        tags: ['trainer'],
        parameters: [
          { name: 'refresh-token', in: 'header', required: false, description: 'Accepted and ignored (seed 004 sends it)', schema: { type: 'string' } },
        ],
        requestBody: { required: true, content: { 'application/json': { schema: ref('TrainerRunRequest') } } },
        responses: { 201: json('Started', summary), ...errors(...COMMON_ERRORS, 409, 422) },
      },
    },
    '/v1/trainer/jobs/{job_id}': {
      get: {
        operationId: 'trainerJob',
        summary: 'The job: status, progress, trials, leaderboard per row, Pareto front, final model and report',
        tags: ['trainer'],
        parameters: path,
        responses: { 200: json('The job', ref('TrainerJob')), ...errors(...COMMON_ERRORS) },
      },
    },
    '/v1/trainer/jobs/{job_id}/cancel': {
      post: {
        operationId: 'trainerCancel',
        summary: 'Cancel: the job then reports status failed, message "canceled"',
        tags: ['trainer'],
        parameters: path,
        responses: { 200: json('Canceled (or already ended)', summary), ...errors(...COMMON_ERRORS, 409) },
      },
    },
  },
};
