import { siteName } from '../../shared/contracts/sites';
import Joi from 'joi';
import { TASK_KINDS, withoutReservedPrefix, type TaskKind } from '../../shared/contracts/work-contract';
import { identifier } from '../../shared/contracts/identifiers';
import { displayText, logText, printableAscii } from '../../shared/contracts/text';

/** Joi schemas of every body, path and query the orchestrator accepts. Unknown fields are refused. */
/** Lists in bodies are capped: a request's cost (and the messages it publishes) must stay bounded. */
export const LIST_CAPS = { dataUuids: 10_000, dataProblems: 100, predictionData: 1_000, testDataset: 10_000 } as const;
const oneOrMany = (max: number) => Joi.alternatives().try(identifier(), Joi.array().items(identifier()).min(1).max(max).unique());
/**
 * Per-file scores: the seed's list (one per data file, in the uplet's order) or a map from data uuid to score.
 * Any finite score (a diverged loss is a result too): unsafe() lifts Joi's ±2^53 bound; Infinity and NaN stay refused.
 */
const perfMap = () =>
  Joi.alternatives().try(
    Joi.object().pattern(identifier(), Joi.number().unsafe().required()).max(100_000),
    Joi.array().items(Joi.number().unsafe().required()).max(100_000),
  );

export const problemBody = Joi.object({
  uuid: identifier().required(),
  workflow: identifier().required(),
  test_dataset: Joi.array().items(identifier()).min(1).max(LIST_CAPS.testDataset).unique().required(),
  size_train_dataset: Joi.number().integer().min(1).max(1_000_000).required(),
  metric_direction: Joi.string().valid('higher', 'lower').default('higher'),
  // The site whose gateway holds the workflow (default `default`).
  site: siteName(),
});

export const algoBody = Joi.object({
  uuid: identifier().required(),
  name: displayText().min(1).max(200).required(),
  problem: identifier().required(),
  // The site whose gateway holds the algo archive (default `default`).
  site: siteName(),
});

export const dataBody = Joi.object({
  uuid: oneOrMany(LIST_CAPS.dataUuids).required(),
  // An empty list registers data to no problem: its owner's, for prediction requests only (never train data).
  problems: Joi.alternatives().try(identifier(), Joi.array().items(identifier()).max(LIST_CAPS.dataProblems).unique()).required(),
  // The site whose gateway holds the data (default `default`); its train data is computed on only there.
  site: siteName(),
});

/** Predictions with a problem's best model (`problem`) or with a model of the training engine (`model`: a model id). */
export const predictionBody = Joi.object({
  data: oneOrMany(LIST_CAPS.predictionData).required(),
  problem: identifier(),
  model: identifier(),
}).xor('problem', 'model');

export const workerBody = Joi.object({
  worker: withoutReservedPrefix(printableAscii().min(1).max(200)).required(),
  site: siteName(),
});

export const leaseBody = Joi.object({ lease_token: printableAscii().max(100).required() });

const reportCommon = {
  lease_token: printableAscii().max(100),
  status: Joi.string().valid('done', 'failed').required(),
  // Written from an algo's output: sanitised, not refused, so a failure is always recorded.
  reason: logText().max(2_000).when('status', { is: 'failed', otherwise: Joi.forbidden() }),
  log_tail: logText().max(20_000).when('status', { is: 'failed', otherwise: Joi.forbidden() }),
  // A deterministic failure (bad input): failed at once, never retried.
  permanent: Joi.boolean().when('status', { is: 'failed', otherwise: Joi.forbidden() }),
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
export const kindPath = Joi.object({
  kind: Joi.string()
    .valid(...TASK_KINDS)
    .required(),
  uuid: identifier().required(),
});

/** What the Python engine reports (profile, result.json, report.json): JSON objects of bounded size, checked further by each kind's acceptDone. */
const engineObject = () =>
  Joi.object()
    .unknown(true)
    .custom((value: unknown, helpers) => (JSON.stringify(value).length > 2_000_000 ? helpers.error('any.invalid') : value));
const doneOnly = (schema: Joi.Schema) => schema.when('status', { is: 'done', then: Joi.required(), otherwise: Joi.forbidden() });

export const profileDoneBody = Joi.object({ ...reportCommon, profile: doneOnly(engineObject()) });
export const trialDoneBody = Joi.object({
  ...reportCommon,
  result: doneOnly(engineObject()),
  model_storage_uuid: doneOnly(identifier()),
  oof_storage_uuid: doneOnly(identifier()),
});
export const finalDoneBody = Joi.object({ ...reportCommon, report: doneOnly(engineObject()), model_storage_uuid: doneOnly(identifier()) });
export const synthesizeDoneBody = Joi.object({
  ...reportCommon,
  data_storage_uuid: doneOnly(identifier()),
  result: engineObject().when('status', { is: 'done', otherwise: Joi.forbidden() }),
});

export const teachDoneBody = Joi.object({ ...reportCommon, result: doneOnly(engineObject()), targets_storage_uuid: doneOnly(identifier()) });

/** Each task kind's report body; a new kind adds its row here. */
export const reportBodies: Readonly<Record<TaskKind, Joi.ObjectSchema>> = {
  learnuplet: learndoneBody,
  preduplet: preddoneBody,
  profile: profileDoneBody,
  trial: trialDoneBody,
  final: finalDoneBody,
  synthesize: synthesizeDoneBody,
  teach: teachDoneBody,
};

const paging = { limit: Joi.number().integer().min(1).max(1000).default(100), offset: Joi.number().integer().min(0).max(10_000_000).default(0) };
const status = Joi.string().valid('waiting', 'todo', 'pending', 'done', 'failed', 'canceled');

/** Filters per collection: known fields, plain values only (`?status[$ne]=x` is an unknown field). */
export const listQueries = {
  problem: Joi.object({ ...paging, uuid: identifier(), workflow: identifier(), owner: displayText().max(200) }),
  algo: Joi.object({ ...paging, uuid: identifier(), problem: identifier(), name: displayText().max(200), owner: displayText().max(200) }),
  data: Joi.object({ ...paging, uuid: identifier(), problems: identifier(), owner: displayText().max(200) }),
  learnuplet: Joi.object({
    ...paging,
    uuid: identifier(),
    problem: identifier(),
    algo: identifier(),
    status,
    rank: Joi.number().integer().min(0),
    worker: displayText().max(200),
    model_end: identifier(),
  }),
  preduplet: Joi.object({
    ...paging,
    uuid: identifier(),
    problem: identifier(),
    algo: identifier(),
    status,
    data: identifier(),
    worker: displayText().max(200),
    owner: displayText().max(200),
  }),
} as const;

export type CollectionName = keyof typeof listQueries;

export function asList(value: string | string[]): string[] {
  return Array.isArray(value) ? value : [value];
}
