import Joi from 'joi';
import { identifier } from '../../shared/contracts/identifiers';
import { displayText, logText, printableAscii } from '../../shared/contracts/text';

/** Joi schemas of every body, path and query the orchestrator accepts. Unknown fields are refused. */
const oneOrMany = () => Joi.alternatives().try(identifier(), Joi.array().items(identifier()).min(1).max(100_000).unique());
/**
 * Per-file scores: the seed's list (one per data file, in the uplet's order) or a map from data uuid to score.
 * Any finite score (a diverged loss is a result too): unsafe() lifts Joi's ±2^53 bound; Infinity and NaN stay refused.
 */
const perfMap = () => Joi.alternatives().try(
  Joi.object().pattern(identifier(), Joi.number().unsafe().required()).max(100_000),
  Joi.array().items(Joi.number().unsafe().required()).max(100_000),
);

export const problemBody = Joi.object({
  uuid: identifier().required(),
  workflow: identifier().required(),
  test_dataset: Joi.array().items(identifier()).min(1).max(100_000).unique().required(),
  size_train_dataset: Joi.number().integer().min(1).max(1_000_000).required(),
  metric_direction: Joi.string().valid('higher', 'lower').default('higher'),
});

export const algoBody = Joi.object({
  uuid: identifier().required(),
  name: displayText().min(1).max(200).required(),
  problem: identifier().required(),
});

export const dataBody = Joi.object({
  uuid: oneOrMany().required(),
  // An empty list registers data to no problem: its owner's, for prediction requests only.
  problems: Joi.alternatives().try(identifier(), Joi.array().items(identifier()).max(100_000).unique()).required(),
});

export const predictionBody = Joi.object({
  data: oneOrMany().required(),
  problem: identifier().required(),
});

export const workerBody = Joi.object({
  worker: printableAscii().min(1).max(200).required(),
});

export const leaseBody = Joi.object({ lease_token: printableAscii().max(100).required() });

const reportCommon = {
  lease_token: printableAscii().max(100),
  status: Joi.string().valid('done', 'failed').required(),
  // Written from an algo's output: sanitised, not refused, so a failure is always recorded.
  reason: logText().max(2_000).when('status', { is: 'failed', otherwise: Joi.forbidden() }),
  log_tail: logText().max(20_000).when('status', { is: 'failed', otherwise: Joi.forbidden() }),
};

export const learndoneBody = Joi.object({
  ...reportCommon,
  perf: Joi.number().unsafe().when('status', { is: 'done', then: Joi.required(), otherwise: Joi.forbidden() }),
  train_perf: perfMap().when('status', { is: 'done', then: Joi.required(), otherwise: Joi.forbidden() }),
  test_perf: perfMap().when('status', { is: 'done', then: Joi.required(), otherwise: Joi.forbidden() }),
});

export const preddoneBody = Joi.object({
  ...reportCommon,
  prediction_storage_uuid: identifier().when('status', { is: 'done', then: Joi.required(), otherwise: Joi.forbidden() }),
});

export const uuidPath = Joi.object({ uuid: identifier().required() });
export const kindPath = Joi.object({ kind: Joi.string().valid('learnuplet', 'preduplet').required(), uuid: identifier().required() });

const paging = { limit: Joi.number().integer().min(1).max(1000).default(100), offset: Joi.number().integer().min(0).max(10_000_000).default(0) };
const status = Joi.string().valid('waiting', 'todo', 'pending', 'done', 'failed', 'canceled');

/** Filters per collection: known fields, plain values only (`?status[$ne]=x` is an unknown field). */
export const listQueries = {
  problem: Joi.object({ ...paging, uuid: identifier(), workflow: identifier(), owner: displayText().max(200) }),
  algo: Joi.object({ ...paging, uuid: identifier(), problem: identifier(), name: displayText().max(200), owner: displayText().max(200) }),
  data: Joi.object({ ...paging, uuid: identifier(), problems: identifier(), owner: displayText().max(200) }),
  learnuplet: Joi.object({ ...paging, uuid: identifier(), problem: identifier(), algo: identifier(), status, rank: Joi.number().integer().min(0), worker: displayText().max(200), model_end: identifier() }),
  preduplet: Joi.object({ ...paging, uuid: identifier(), problem: identifier(), algo: identifier(), status, data: identifier(), worker: displayText().max(200), owner: displayText().max(200) }),
} as const;

export type CollectionName = keyof typeof listQueries;

export function asList(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}
