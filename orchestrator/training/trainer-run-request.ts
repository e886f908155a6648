import Joi from 'joi';
import { identifier } from '../../shared/contracts/identifiers';
import {
  AKKIO_DURATIONS,
  FILTER_OPS,
  ONTOLOGY_FIELD_ROLES,
  ONTOLOGY_FIELD_TYPES,
  REGISTRY_MODEL_STATUSES,
  SEARCH_STRATEGIES,
  TASK_KINDS,
  type AkkioTrainRequest,
  type ValidationProblem,
} from '../../shared/contracts/training-contract';
import { MAX_SEED } from './seeds';

/**
 * Joi schemas of the training front doors' bodies (a bad shape or type → 400; the domain rules
 * then judge what is well-formed: unknown column, family, metric → 422). Unknown fields are
 * refused, except on the Akkio path where they are ignored (seed 001).
 */

const columnName = () => Joi.string().min(1).max(256);
const filterScalar = () => Joi.alternatives().try(Joi.string().max(1000), Joi.number(), Joi.boolean());

/** One row filter; `value` is judged against the column's type by request-validation.ts. */
export const rowFilterSchema = Joi.object({
  col: columnName().required(),
  kind: Joi.string().valid('cmp').default('cmp'),
  op: Joi.string()
    .valid(...FILTER_OPS)
    .default('=='),
  value: Joi.alternatives().try(filterScalar(), Joi.array().items(filterScalar()).max(1000)).allow(null),
});

const nameList = () => Joi.array().items(Joi.string().min(1).max(100)).min(1).max(50).unique().allow(null).default(null);

/** `POST /v1/trainer/run` (seed 004 with DESIGN.md's defaults). */
/** Headers the agent sets on a teacher request itself; a request may not give them. */
const AGENT_SET_HEADERS = ['content-type', 'content-length', 'accept', 'host', 'connection', 'transfer-encoding'];

export const trainerRunBody = Joi.object({
  dataset_id: identifier().required(),
  filter: Joi.alternatives().try(rowFilterSchema, Joi.array().items(rowFilterSchema).max(50)).allow(null).default(null),
  task: Joi.object({
    label_column: columnName().required(),
    task_kind: Joi.string()
      .valid(...TASK_KINDS)
      .required(),
  }).required(),
  model_types: nameList(),
  metrics: nameList(),
  strategy: Joi.string()
    .valid(...SEARCH_STRATEGIES)
    .default('optuna'),
  n_trials: Joi.number().integer().min(1).max(1000).default(4),
  n_splits: Joi.number().integer().min(2).max(20).allow(null).default(null),
  ensemble: Joi.boolean().default(false),
  grid_size: Joi.number().integer().min(1).max(20).allow(null).default(null),
  teacher_model_id: identifier().allow(null).default(null),
  teacher_predict_url: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .max(2000)
    .allow(null)
    .default(null)
    .when('teacher_model_id', {
      is: Joi.string().required(),
      then: Joi.valid(null).messages({ 'any.only': 'give teacher_model_id or teacher_predict_url, not both' }),
    }),
  // Sent by the agent as they are: HTTP tokens for names (not the ones it sets itself), no control characters in values (never echoed: secrets).
  teacher_predict_headers: Joi.object()
    .pattern(
      Joi.string()
        .max(200)
        .pattern(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)
        .invalid(...AGENT_SET_HEADERS)
        .insensitive(),
      Joi.string()
        .max(4000)
        .pattern(/^[\t\x20-\x7e]*$/)
        .messages({ 'string.pattern.base': '{{#label}} must be printable ASCII (the value is not shown)' }),
    )
    .messages({
      'object.unknown': `{{#label}} is not a header the agent may send: an HTTP header name, not one it sets itself (${AGENT_SET_HEADERS.join(', ')})`,
    })
    .max(20)
    .allow(null)
    .default(null)
    .when('teacher_predict_url', {
      is: Joi.string().required(),
      otherwise: Joi.valid(null).messages({ 'any.only': 'teacher_predict_headers need a teacher_predict_url' }),
    }),
  random_state: Joi.number()
    .integer()
    .min(0)
    .max(MAX_SEED - 1)
    .default(42),
});

/** `POST /api/v1/models/train/new` (seed 001): unknown properties are allowed and dropped. */
export const akkioTrainBody = Joi.object({
  dataset_id: Joi.string().min(1).max(200).required(),
  predict_fields: Joi.array().items(columnName()).min(1).max(20).unique().required(),
  duration: Joi.number()
    .integer()
    .valid(...AKKIO_DURATIONS)
    .required(),
  extra_attention: Joi.boolean().default(false),
  force: Joi.boolean().default(false),
  ignore_fields: Joi.array().items(columnName()).max(10_000).unique().default([]),
}).prefs({ stripUnknown: true });

/** FastAPI-style `type` of a Joi error (`value_error.missing`, `type_error.integer`, …). */
function akkioType(detail: Joi.ValidationErrorItem): string {
  if (detail.type === 'any.required') return 'value_error.missing';
  const [subject, rule] = detail.type.split('.');
  if (rule === 'base') return `type_error.${subject === 'number' ? 'number' : subject}`;
  return `value_error.${detail.type.replace(/\./g, '_')}`;
}

/** Joi errors as the Akkio 422's `detail` list: loc starts at `body`, messages without Joi's quotes. */
export function joiToAkkioDetail(error: Joi.ValidationError, root = 'body'): ValidationProblem[] {
  return error.details.map((detail) => ({
    loc: [root, ...detail.path],
    msg: detail.message.replace(/"/g, ''),
    type: akkioType(detail),
  }));
}

/** The Akkio body with defaults and without unknown properties, or its problems (all of them). */
export function parseAkkioTrainBody(body: unknown): { ok: true; value: AkkioTrainRequest } | { ok: false; problems: ValidationProblem[] } {
  const { error, value } = akkioTrainBody.validate(body ?? {}, { abortEarly: false, stripUnknown: true, convert: true });
  if (error) return { ok: false, problems: joiToAkkioDetail(error) };
  return { ok: true, value: value as AkkioTrainRequest };
}

const trainingConfig = () =>
  Joi.object({
    train_test_split: Joi.number().greater(0).less(1).default(0.8),
    random_seed: Joi.number()
      .integer()
      .min(0)
      .max(MAX_SEED - 1)
      .default(42),
    learning_rate: Joi.number().greater(0).max(10).allow(null).default(null),
    batch_size: Joi.number().integer().min(1).max(1_000_000).allow(null).default(null),
  });
const metricValues = (known: string[]) =>
  Joi.object(Object.fromEntries(known.map((k) => [k, Joi.number().unsafe().allow(null)])))
    .pattern(/^[A-Za-z0-9_]{1,64}$/, Joi.number().unsafe().allow(null))
    .max(100);
const performanceMetrics = () => metricValues(['accuracy', 'f1_score', 'precision', 'recall']);
const trainingMetrics = () => metricValues(['epoch', 'training_loss', 'validation_loss']);
const metadata = () => Joi.object().unknown(true).max(100);
const modelName = () => Joi.string().trim().min(1).max(200);
const description = () => Joi.string().max(5000).allow('');

/**
 * `POST /api/ml-models`. `type` is any string here: an unknown type is a 422 from
 * families.familyOfRegistryType (well-formed, not acceptable), not a 400.
 */
export const registryModelCreateBody = Joi.object({
  project_id: identifier().required(),
  ontology_id: identifier().required(),
  name: modelName().required(),
  description: description().default(''),
  type: Joi.string().min(1).max(100).required(),
  training_config: trainingConfig().default(),
  metadata: metadata().default({}),
});

/** `PUT /api/ml-models/{id}`: only these fields, at least one; the status change is judged by job-status.transitionModel. */
export const registryModelUpdateBody = Joi.object({
  name: modelName(),
  description: description(),
  status: Joi.string().valid(...REGISTRY_MODEL_STATUSES),
  training_metrics: trainingMetrics(),
  performance_metrics: performanceMetrics(),
  metadata: metadata(),
}).min(1);

/** `POST /api/ml-models/train`: empty storage_ids = synthetic data from the ontology. */
export const registryTrainBody = Joi.object({
  model_id: identifier().required(),
  storage_ids: Joi.array().items(identifier()).max(1000).unique().default([]),
  training_config: trainingConfig(),
});

export const registryRecommendBody = Joi.object({
  project_id: identifier().required(),
  ontology_id: identifier().required(),
});

export const registryTrainingCompleteBody = Joi.object({
  model_artifact_path: Joi.string().min(1).max(2000).required(),
  performance_metrics: performanceMetrics().default({}),
  training_metrics: trainingMetrics().default({}),
});

export const registryTrainingFailBody = Joi.object({
  reason: Joi.string().min(1).max(2000).required(),
});

const ontologyField = Joi.object({
  name: columnName().required(),
  type: Joi.string()
    .valid(...ONTOLOGY_FIELD_TYPES)
    .default('numeric'),
  role: Joi.string()
    .valid(...ONTOLOGY_FIELD_ROLES)
    .default('feature'),
  choices: Joi.array().items(Joi.string().min(1).max(200)).min(2).max(100).unique(),
});

/** `POST /api/ontologies`: a project's data schema; names unique, exactly one target. */
export const ontologyBody = Joi.object({
  project_id: identifier().required(),
  name: modelName().required(),
  description: description().default(''),
  fields: Joi.array()
    .items(ontologyField)
    .min(2)
    .max(1000)
    .unique('name')
    .required()
    .custom((fields: Array<{ role: string }>, helpers) => {
      const targets = fields.filter((field) => field.role === 'target').length;
      return targets === 1 ? fields : helpers.message({ custom: `fields must have exactly one target (found ${targets})` });
    }),
});
