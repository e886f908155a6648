import {
  COMMON_ERRORS,
  dateTime,
  errors,
  identifierSchema,
  json,
  nullable,
  pathParam,
  ref,
  type OpenApiFragment,
} from '../../../shared/openapi/openapi-document';

const status = { type: 'string', enum: ['draft', 'training', 'trained', 'failed', 'degraded', 'deprecated', 'archived'] };
const modelType = { type: 'string', enum: ['decision_tree', 'random_forest', 'regression', 'neural_network'] };
const numberMap = { type: 'object', additionalProperties: nullable({ type: 'number' }) };
const trainingConfig = {
  type: 'object',
  properties: {
    train_test_split: { type: 'number', description: '0.8 = 80 % of the rows train' },
    random_seed: { type: 'integer' },
    learning_rate: nullable({ type: 'number' }),
    batch_size: nullable({ type: 'integer' }),
  },
};
const ontologyField = {
  type: 'object',
  required: ['name', 'type', 'role'],
  properties: {
    name: { type: 'string' },
    type: { type: 'string', enum: ['numeric', 'category', 'boolean', 'text', 'timestamp'] },
    role: { type: 'string', enum: ['feature', 'target', 'id', 'ignore'] },
    choices: { type: 'array', items: { type: 'string' } },
  },
};
const projectParam = {
  name: 'project_id',
  in: 'query',
  required: true,
  description: 'The project (a grouping of ontologies and models)',
  schema: identifierSchema,
};
const tags = ['ml-model registry'];

/** The ML-model registry (seed 003) and its ontologies (registry-routes.ts); the WebSocket is described in words. */
export const registryApi: OpenApiFragment = {
  tags: [
    {
      name: 'ml-model registry',
      description:
        'Seed 003: model records with a lifecycle (draft, training, trained, failed, degraded, deprecated, archived), training on the engine, recommend, worker callbacks. ' +
        'Status changes are pushed on the WebSocket `GET /api/ml-models/events?project_id=…|model_id=…[&since=<seq>]` (key in `X-API-Key`/`Authorization: Bearer` on the upgrade, or a first message `{"type":"auth","api_key":"…"}`); ' +
        'messages `{"type":"event","event":{seq, project_id, model_id, from, status, reason, at}}` numbered per project, replayed after `since`.',
    },
  ],
  schemas: {
    Ontology: {
      type: 'object',
      required: ['ontology_id', 'project_id', 'name', 'fields'],
      properties: {
        ontology_id: identifierSchema,
        project_id: identifierSchema,
        name: { type: 'string' },
        description: { type: 'string' },
        fields: { type: 'array', items: ontologyField },
        dataset_id: nullable(identifierSchema),
        owner: { type: 'string' },
        created_at: dateTime,
      },
    },
    RegistryModel: {
      type: 'object',
      required: ['id', 'project_id', 'ontology_id', 'name', 'type', 'status'],
      properties: {
        id: identifierSchema,
        project_id: identifierSchema,
        ontology_id: identifierSchema,
        name: { type: 'string' },
        description: { type: 'string' },
        type: modelType,
        family: { type: 'string' },
        status,
        status_reason: nullable({ type: 'string' }),
        training_config: trainingConfig,
        metadata: { type: 'object' },
        training_metrics: numberMap,
        performance_metrics: numberMap,
        model_artifact_path: nullable({ type: 'string' }),
        trained_on_synthetic_data: { type: 'boolean' },
        trained_on: nullable({
          type: 'string',
          enum: ['dataset', 'synthetic'],
          description: 'What the current (or last) training ran on: a registered dataset, or synthetic data made on a compute node from the ontology',
        }),
        synthetic_task: nullable(identifierSchema),
        synthetic_dataset_id: nullable(identifierSchema),
        storage_ids: { type: 'array', items: { type: 'string' } },
        job_id: nullable({ type: 'string' }),
        engine_model_id: nullable({ type: 'string' }),
        owner: { type: 'string' },
        created_at: dateTime,
        updated_at: dateTime,
      },
    },
  },
  paths: {
    '/api/ontologies': {
      post: {
        operationId: 'createOntology',
        summary: "A project's data schema: fields with type and role, or derived from a ready dataset's profile (`dataset_id` + `target`)",
        tags,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['project_id', 'name'],
                properties: {
                  project_id: identifierSchema,
                  name: { type: 'string' },
                  description: { type: 'string' },
                  fields: { type: 'array', items: ontologyField },
                  dataset_id: identifierSchema,
                  target: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { 201: json('The ontology', ref('Ontology')), ...errors(...COMMON_ERRORS, 422) },
      },
      get: {
        operationId: 'listOntologies',
        summary: "A project's ontologies",
        tags,
        parameters: [projectParam],
        responses: {
          200: json('The list', { type: 'object', required: ['ontologies'], properties: { ontologies: { type: 'array', items: ref('Ontology') } } }),
          ...errors(...COMMON_ERRORS),
        },
      },
    },
    '/api/ontologies/{id}': {
      get: {
        operationId: 'getOntology',
        summary: 'An ontology',
        tags,
        parameters: [pathParam('id', 'The ontology')],
        responses: { 200: json('The ontology', ref('Ontology')), ...errors(...COMMON_ERRORS) },
      },
    },
    '/api/ml-models': {
      get: {
        operationId: 'listMlModels',
        summary: "A project's models",
        tags,
        parameters: [projectParam],
        responses: {
          200: json('The list', { type: 'object', required: ['models'], properties: { models: { type: 'array', items: ref('RegistryModel') } } }),
          ...errors(...COMMON_ERRORS),
        },
      },
      post: {
        operationId: 'createMlModel',
        summary: 'A model record, status draft',
        tags,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['project_id', 'ontology_id', 'name', 'type'],
                properties: {
                  project_id: identifierSchema,
                  ontology_id: identifierSchema,
                  name: { type: 'string' },
                  description: { type: 'string' },
                  type: { type: 'string' },
                  training_config: trainingConfig,
                  metadata: { type: 'object' },
                },
              },
            },
          },
        },
        responses: { 201: json('The model', ref('RegistryModel')), ...errors(...COMMON_ERRORS, 422) },
      },
    },
    '/api/ml-models/train': {
      post: {
        operationId: 'trainMlModel',
        summary: 'Train a model on registered datasets (one site) on the engine; empty storage_ids = synthetic data',
        tags,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['model_id'],
                properties: { model_id: identifierSchema, storage_ids: { type: 'array', items: identifierSchema }, training_config: trainingConfig },
              },
            },
          },
        },
        responses: { 202: json('Training started: the model, status training', ref('RegistryModel')), ...errors(...COMMON_ERRORS, 409, 422) },
      },
    },
    '/api/ml-models/recommend': {
      post: {
        operationId: 'recommendMlModel',
        summary: "The best model type for an ontology (and its dataset's profile), scored 0–100 by documented rules",
        tags,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', required: ['project_id', 'ontology_id'], properties: { project_id: identifierSchema, ontology_id: identifierSchema } },
            },
          },
        },
        responses: {
          200: json('The recommendation', {
            type: 'object',
            required: ['type', 'score', 'reasoning', 'all_scores', 'ontology_analysis', 'data_analysis'],
            properties: {
              type: modelType,
              score: { type: 'number', minimum: 0, maximum: 100 },
              reasoning: { type: 'string' },
              all_scores: { type: 'object', additionalProperties: { type: 'number' } },
              ontology_analysis: { type: 'object' },
              data_analysis: { type: 'object' },
            },
          }),
          ...errors(...COMMON_ERRORS, 422),
        },
      },
    },
    '/api/ml-models/{id}': {
      get: {
        operationId: 'getMlModel',
        summary: 'A model',
        tags,
        parameters: [pathParam('id', 'The model')],
        responses: { 200: json('The model', ref('RegistryModel')), ...errors(...COMMON_ERRORS) },
      },
      put: {
        operationId: 'updateMlModel',
        summary: 'Change name, description, status (legal transitions only), training_metrics, performance_metrics, metadata',
        tags,
        parameters: [pathParam('id', 'The model')],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  name: { type: 'string' },
                  description: { type: 'string' },
                  status,
                  training_metrics: numberMap,
                  performance_metrics: numberMap,
                  metadata: { type: 'object' },
                },
              },
            },
          },
        },
        responses: { 200: json('The model', ref('RegistryModel')), ...errors(...COMMON_ERRORS, 409) },
      },
      delete: {
        operationId: 'deleteMlModel',
        summary: 'Delete a model (its running training is canceled)',
        tags,
        parameters: [pathParam('id', 'The model')],
        responses: { 204: { description: 'Deleted' }, ...errors(...COMMON_ERRORS) },
      },
    },
    '/api/ml-models/{id}/training/complete': {
      post: {
        operationId: 'mlModelTrainingComplete',
        summary: "A worker's report: training completed (compute role); a repeat of the same report answers the same",
        tags,
        parameters: [pathParam('id', 'The model')],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['model_artifact_path'],
                properties: { model_artifact_path: { type: 'string' }, performance_metrics: numberMap, training_metrics: numberMap },
              },
            },
          },
        },
        responses: {
          200: json('Recorded', { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['training completed'] } } }),
          ...errors(...COMMON_ERRORS, 409),
        },
      },
    },
    '/api/ml-models/{id}/training/fail': {
      post: {
        operationId: 'mlModelTrainingFail',
        summary: "A worker's report: training failed (compute role)",
        tags,
        parameters: [pathParam('id', 'The model')],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', required: ['reason'], properties: { reason: { type: 'string' } } } } },
        },
        responses: {
          200: json('Recorded', { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['training failed'] } } }),
          ...errors(...COMMON_ERRORS, 409),
        },
      },
    },
  },
};
