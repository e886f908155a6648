import { errors, json, nullable, pathParam, ref, type JsonSchema, type OpenApiFragment } from '../../../shared/openapi/openapi-document';

const akkioStatus = { type: 'string', enum: ['PENDING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'UNKNOWN_TIMEOUT'] };
const tags = ['akkio training'];
const problems: JsonSchema = {
  type: 'object',
  required: ['detail'],
  properties: {
    detail: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['loc', 'msg', 'type'],
        additionalProperties: false,
        properties: { loc: { type: 'array', items: { type: ['string', 'integer'] } }, msg: { type: 'string' }, type: { type: 'string' } },
      },
    },
    status: akkioStatus,
    metadata: { type: 'object' },
  },
};
const refused = (status: 404 | 409 | 422, description: string) => ({
  [status]: json(`${description} (seed 001's shape: {detail: [{loc, msg, type}]})`, ref('AkkioProblems')),
});
const taskId = pathParam('task_id', 'The training task (from train/new)', { type: 'string' });
const sharedErrors = errors(400, 401, 403, 413, 415, 500, 503);

/** Seeds 000/001: asynchronous training (akkio-routes.ts, training/akkio.ts). */
export const akkioApi: OpenApiFragment = {
  tags: [
    {
      name: 'akkio training',
      description: 'Seed 001: train a model per predict field within a duration tier, poll its status, read stats, field importance and data story',
    },
  ],
  schemas: {
    AkkioProblems: problems,
    AkkioStatus: {
      type: 'object',
      required: ['status', 'metadata'],
      additionalProperties: false,
      properties: {
        status: akkioStatus,
        metadata: {
          type: 'object',
          required: ['type'],
          additionalProperties: false,
          properties: {
            type: akkioStatus,
            estimate_seconds: { type: 'integer', minimum: 1 },
            location: { type: 'string', pattern: '^/models/train/[^/]+/result$' },
            error: { type: 'string' },
          },
        },
      },
    },
    AkkioResult: {
      type: 'object',
      required: ['status', 'model_id', 'stats', 'field_importance', 'data_story'],
      properties: {
        status: { type: 'string', enum: ['success'] },
        model_id: { type: 'string' },
        models: {
          type: 'array',
          items: {
            type: 'object',
            required: ['field', 'model_id'],
            properties: {
              field: { type: 'string' },
              model_id: nullable({ type: 'string' }),
              task_kind: nullable({ type: 'string' }),
              metrics: { type: 'object' },
            },
          },
        },
        stats: {
          type: 'array',
          items: {
            type: 'array',
            items: {
              type: 'object',
              required: ['field', 'field_name', 'field_type', 'count'],
              properties: {
                field: { type: 'integer', minimum: 0 },
                field_name: { type: 'string' },
                field_type: { type: 'string' },
                class: {},
                class_name: { type: 'string' },
                count: { type: 'integer', minimum: 0 },
                'true positives': { type: 'integer' },
                'false positives': { type: 'integer' },
                'false negatives': { type: 'integer' },
                precision: { type: 'number' },
                recall: { type: 'number' },
                f1: { type: 'number' },
                frequency: { type: 'number' },
                rmse: { type: 'number' },
                mae: { type: 'number' },
                r2: { type: 'number' },
              },
            },
          },
        },
        field_importance: { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
        data_story: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'type', 'outcomes'],
            properties: {
              name: { type: 'string' },
              type: { type: 'string' },
              outcomes: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['outcome', 'causes'],
                  properties: {
                    outcome: {},
                    causes: {
                      type: 'array',
                      items: { type: 'object', required: ['field'], properties: { field: { type: 'string' }, top_value: {}, bottom_value: {} } },
                    },
                    top_case: {},
                    avg_case: {},
                    bottom_case: {},
                  },
                },
              },
            },
          },
        },
      },
    },
  },
  paths: {
    '/api/v1/models/train/new': {
      post: {
        operationId: 'akkioTrainNew',
        summary: 'Train one model per predict field within the duration tier (seconds); answers at once with the task id',
        tags,
        description:
          'Required: dataset_id, predict_fields, duration (10, 60, 300 or 1800). Defaults: extra_attention false (true: rare classes weighted up, class_weight balanced), ' +
          'force false (false: an identical request whose model exists or is being made answers that task id), ignore_fields []. Other properties are ignored. ' +
          'Header Idempotency-Key: a retried submit with the same key and the same body answers the same task id and creates nothing; ' +
          'the key reused with a different body is refused (422, loc ["header", "Idempotency-Key"]) and changes nothing.',
        parameters: [
          {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'Retries with the same key (and body) never create a second task; another body under a used key → 422',
            schema: { type: 'string', maxLength: 200 },
          },
        ],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['dataset_id', 'predict_fields', 'duration'],
                properties: {
                  dataset_id: { type: 'string' },
                  predict_fields: { type: 'array', items: { type: 'string' }, minItems: 1 },
                  duration: { type: 'integer', enum: [10, 60, 300, 1800] },
                  extra_attention: { type: 'boolean', default: false },
                  force: { type: 'boolean', default: false },
                  ignore_fields: { type: 'array', items: { type: 'string' }, default: [] },
                },
              },
            },
          },
        },
        responses: {
          201: json('The task (new, or the existing one an identical request or the same Idempotency-Key names)', {
            type: 'object',
            required: ['task_id'],
            additionalProperties: false,
            properties: { task_id: { type: 'string' } },
          }),
          ...refused(409, 'The dataset is not ready'),
          ...refused(
            422,
            'Validation errors: bad shape, unknown dataset, unknown field names (checked against the dataset profile); an Idempotency-Key already used with a different body',
          ),
          ...sharedErrors,
        },
      },
    },
    '/api/v1/models/train/{task_id}/status': {
      get: {
        operationId: 'akkioTrainStatus',
        summary:
          'The task status: PENDING, IN_PROGRESS (estimate_seconds), SUCCEEDED (location, relative to /api/v1), FAILED (error), UNKNOWN_TIMEOUT (past tier × 1.5 + 30 s)',
        tags,
        parameters: [taskId],
        responses: { 200: json('The status', ref('AkkioStatus')), ...refused(404, 'No such task'), ...sharedErrors },
      },
    },
    '/api/v1/models/train/{task_id}/result': {
      get: {
        operationId: 'akkioTrainResult',
        summary: 'Stats per field and class on held-out rows, normalised permutation importance, data story',
        tags,
        parameters: [taskId],
        responses: {
          200: json('The result', ref('AkkioResult')),
          ...refused(404, 'No such task'),
          ...refused(409, 'Not succeeded (yet): carries status and metadata'),
          ...sharedErrors,
        },
      },
    },
  },
};
