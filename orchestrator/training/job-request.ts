import Joi from 'joi';
import { FILTER_OPS, SEARCH_STRATEGIES, TASK_KINDS, type DatasetProfile, type ValidationProblem } from '../../shared/contracts/training-contract';
import { displayText } from '../../shared/contracts/text';
import { identifier } from '../../shared/contracts/identifiers';
import { findColumn } from './dataset-profile';
import { validateTrainerRun } from './request-validation';

/** `POST /v1/datasets`: a CSV already uploaded (kind `data`) by the caller to the site's gateway. */
export const datasetBody = Joi.object({
  name: displayText().min(1).max(200).required(),
  storage_uuid: identifier().required(),
  format: Joi.string().valid('csv').default('csv'),
  site: identifier().default('default'),
});

const scalar = Joi.alternatives().try(Joi.string().max(1_000), Joi.number(), Joi.boolean());
const filter = Joi.object({
  col: Joi.string().min(1).max(500).required(),
  kind: Joi.string().valid('cmp').default('cmp'),
  op: Joi.string()
    .valid(...FILTER_OPS)
    .default('=='),
  value: Joi.alternatives().try(scalar, Joi.array().items(scalar).max(1_000)).allow(null),
});

/**
 * The engine's own job request (TrainingEngine.submit, and `POST /v1/jobs` for operators and
 * tests). The front doors (trainer run, Akkio, registry) compile their requests into this.
 */
export const jobBody = Joi.object({
  dataset_id: identifier().required(),
  label_column: Joi.string().min(1).max(500).required(),
  task_kind: Joi.string()
    .valid(...TASK_KINDS)
    .required(),
  filters: Joi.array().items(filter).max(50).default([]),
  ignore_fields: Joi.array().items(Joi.string().min(1).max(500)).max(10_000).unique().default([]),
  families: Joi.array().items(Joi.string().max(100)).max(20).allow(null).default(null),
  metrics: Joi.array().items(Joi.string().max(100)).max(20).allow(null).default(null),
  strategy: Joi.string()
    .valid(...SEARCH_STRATEGIES)
    .default('optuna'),
  n_trials: Joi.number().integer().min(1).max(1_000).default(4),
  evaluation: Joi.alternatives()
    .try(
      Joi.object({ kind: Joi.string().valid('kfold').required(), n_splits: Joi.number().integer().min(2).max(20).default(5) }),
      Joi.object({ kind: Joi.string().valid('holdout').required(), train_fraction: Joi.number().greater(0).less(1).default(0.8) }),
    )
    .default({ kind: 'kfold', n_splits: 5 }),
  class_weight: Joi.string().valid('balanced').allow(null).default(null),
  random_state: Joi.number()
    .integer()
    .min(0)
    .max(2 ** 31 - 2)
    .default(42),
  grid_size: Joi.number().integer().min(1).max(20).allow(null).default(null),
  ensemble: Joi.boolean().default(false),
  budget_seconds: Joi.number()
    .integer()
    .min(1)
    .max(7 * 24 * 3600)
    .allow(null)
    .default(null),
});

/** Where the trainer-run validation's locs are, in the job request's words. */
const LOC_RENAMES: Record<string, Array<string | number>> = { task: [], filter: ['filters'], model_types: ['families'] };

/** The job request against its dataset's profile: every problem `{loc, msg, type}` (`[]` when acceptable). */
export function validateJobRequest(
  profile: DatasetProfile,
  request: {
    label_column: string;
    task_kind: 'classification' | 'regression';
    filters: Array<Record<string, unknown>>;
    ignore_fields: string[];
    families: string[] | null;
    metrics: string[] | null;
  },
): ValidationProblem[] {
  const problems = validateTrainerRun(profile, {
    task: { label_column: request.label_column, task_kind: request.task_kind },
    filter: request.filters as never,
    model_types: request.families,
    metrics: request.metrics,
  } as never).map((p) => {
    const [root, first, ...rest] = p.loc;
    const renamed = typeof first === 'string' && first in LOC_RENAMES ? [...LOC_RENAMES[first]!, ...rest] : [first!, ...rest];
    return { ...p, loc: [root!, ...renamed] };
  });
  request.ignore_fields.forEach((field, i) => {
    const loc = ['body', 'ignore_fields', i];
    if (!findColumn(profile, field)) problems.push({ loc, msg: `no column named ${JSON.stringify(field)} in the dataset`, type: 'value_error.unknown_column' });
    else if (field === request.label_column) problems.push({ loc, msg: `${field} is the label and cannot be ignored`, type: 'value_error.label_ignored' });
  });
  return problems;
}

/** `body.filters.0.value` from `['body','filters',0,'value']`: the field a 422 names. */
export function fieldOf(loc: ReadonlyArray<string | number>): string {
  return loc.slice(1).join('.');
}
