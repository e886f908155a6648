import Joi from 'joi';

/**
 * What crosses the wire between the orchestrator and compute agents: the task kinds, the work
 * message, the claim / heartbeat / release / report bodies and answers, and the stable error
 * codes. The orchestrator's routes and the agents' client both import this module, so the two
 * sides cannot drift apart; `test/integration/work-contract.test.ts` checks real answers against
 * the answer schemas below.
 */

/**
 * An agent's name as it claims (`worker`) must not start with this: the orchestrator names its own
 * lease holders with it (a cancellation's tombstone), and a lease is told apart by its holder.
 */
export const RESERVED_WORKER_PREFIX = 'uplet:';

/** Refuses a worker name in the orchestrator's reserved prefix (any case), with a message saying so. */
export function withoutReservedPrefix(schema: Joi.StringSchema): Joi.StringSchema {
  return schema
    .pattern(new RegExp(`^(?!${RESERVED_WORKER_PREFIX})`, 'i'), { name: 'reserved' })
    .messages({ 'string.pattern.name': `{{#label}} must not start with "${RESERVED_WORKER_PREFIX}", which the orchestrator keeps for its own lease holders` });
}

/** Every kind of leased task. A new kind is a row of the orchestrator's and the agent's per-kind tables. */
export const TASK_KINDS = ['learnuplet', 'preduplet', 'profile', 'trial', 'final', 'synthesize', 'teach'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export function isTaskKind(value: unknown): value is TaskKind {
  return typeof value === 'string' && (TASK_KINDS as readonly string[]).includes(value);
}

/** The stable codes of the work API's refusals; clients match on these, never on messages. */
export const WORK_ERROR_CODES = Object.freeze({
  /** The task is not `todo` (claimed, finished or canceled): the message has done its job. */
  NOT_CLAIMABLE: 'NOT_CLAIMABLE',
  /** Another agent won this attempt's claim. */
  ALREADY_CLAIMED: 'ALREADY_CLAIMED',
  /** The lease expired, was settled or was never this caller's: stop and discard the work. */
  LEASE_LOST: 'LEASE_LOST',
  /** The attempt is settled already; a different report is refused. */
  LEASE_SETTLED: 'LEASE_SETTLED',
  /** Only the lease holder may report. */
  NOT_LEASE_HOLDER: 'NOT_LEASE_HOLDER',
  /** A reported output is not the blob this lease may write. */
  NOT_TASK_OUTPUT: 'NOT_TASK_OUTPUT',
  /** Per-item scores of data that is not the task's own. */
  UNKNOWN_PERF_ITEM: 'UNKNOWN_PERF_ITEM',
  /** The task runs at another site (where its data is); only that site's agents may claim it. */
  WRONG_SITE: 'WRONG_SITE',
  /** The agent named a site its key is not bound to. */
  SITE_NOT_ALLOWED: 'SITE_NOT_ALLOWED',
  /** A cancellation kept losing races; retry it. */
  CANCEL_CONTENDED: 'CANCEL_CONTENDED',
});
export type WorkErrorCode = (typeof WORK_ERROR_CODES)[keyof typeof WORK_ERROR_CODES];

/** A RabbitMQ work message: a reference only, never the task itself. */
export interface WorkMessage {
  type: TaskKind;
  uuid: string;
}

const MESSAGE_UUID = /^[A-Za-z0-9_-]{1,64}$/;

/** Parses a delivery body; undefined for anything that is not a well-formed work reference. */
export function parseWorkMessage(content: Buffer): WorkMessage | undefined {
  try {
    const parsed: unknown = JSON.parse(content.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { type, uuid } = parsed as Record<string, unknown>;
    if (isTaskKind(type) && typeof uuid === 'string' && MESSAGE_UUID.test(uuid)) return { type, uuid };
  } catch {
    /* not JSON: malformed */
  }
  return undefined;
}

/** A learnuplet as an agent receives it. */
export interface Learnuplet {
  uuid: string;
  problem: string;
  algo: string;
  workflow: string;
  rank: number;
  train_data: string[];
  test_data: string[];
  model_start: string;
  model_end: string;
  attempt: number;
}

/** A preduplet as an agent receives it. */
export interface Preduplet {
  uuid: string;
  problem: string;
  workflow: string;
  algo: string;
  model: string;
  data: string;
  owner: string;
  attempt: number;
  /** Set when the preduplet uses a model of the training engine (`POST /prediction {data, model}`): the agent runs the engine's `predict` on `model` (a model blob) instead of the algo. */
  engine_model?: string | null;
}

/** What every training-engine task carries: the dataset's blob and the site that holds it. */
export interface EngineTaskCommon {
  uuid: string;
  attempt: number;
  dataset: string;
  /** The data blob (`data/<storage_uuid>`) at the site's gateway. */
  storage_uuid: string;
  /** The dataset's owner: the agent checks the blob is theirs before reading it. */
  owner: string;
  site: string;
}

/** Profiles a registered dataset (Python `profile`). */
export type EngineProfileTask = EngineTaskCommon;

/** The data fields of the Python trial and final specs (see compute-agent/training/python/README.md). */
export interface EngineDataSpec {
  profile: Record<string, unknown>;
  label_column: string;
  task_kind: 'classification' | 'regression';
  filters: Array<Record<string, unknown>>;
  ignore_fields: string[];
  random_state: number;
  metrics: string[];
  class_weight: 'balanced' | null;
  /** Distillation: the teach task's targets (a `model` blob) the trial or final fits soft targets on; absent or null: none. */
  teacher_targets?: string | null;
}

/** One trial of a job: a family, its params or an `ask` of the sampler, evaluated by k-fold or holdout. */
export interface EngineTrialTask extends EngineTaskCommon, EngineDataSpec {
  job: string;
  row: number;
  index: number;
  family: string;
  params: Record<string, unknown> | null;
  ask: Record<string, unknown> | null;
  evaluation: { kind: 'kfold'; n_splits: number } | { kind: 'holdout'; train_fraction: number };
  seed: number;
}

/** The refit of a job's best trial on the non-test rows, and its report (Python `final`). */
export interface EngineFinalTask extends EngineTaskCommon, EngineDataSpec {
  job: string;
  family: string;
  params: Record<string, unknown>;
  seed: number;
  best_trial: string;
  /** Caruana ensemble selection over these trials' fold models and OOF blobs (kind `model`) instead of a refit (absent or null: refit). */
  ensemble?: { members: Array<{ trial: string; model: string; oof: string }>; steps: number } | null;
}

/**
 * Synthetic training data for a registry model trained with empty `storage_ids` (Python
 * `synthetic`): `n_rows` rows of the ontology's fields, written as the `data` blob
 * `synthDataUuid(task, attempt)` under this attempt's lease only.
 */
export interface EngineSynthesizeTask {
  uuid: string;
  attempt: number;
  /** The registry model it trains. */
  model: string;
  /** The model's owner: the dataset is registered as theirs (the blob names them as reader). */
  owner: string;
  site: string;
  ontology: { fields: Array<{ name: string; type: string; role: string; choices?: string[] }> };
  n_rows: number;
  seed: number;
}

/**
 * Who teaches a distilled job. `url`: the agent (never the sandbox) POSTs the training rows'
 * input fields to it with these headers (secrets: kept on the task only while it may run).
 * `model`: a model of this server, at the same site, predicts them in the sandbox.
 */
export type TeacherSpec = { kind: 'url'; url: string; headers: Record<string, string> } | { kind: 'model'; model_id: string; model_storage_uuid: string };

/**
 * Distillation: the teacher's predictions on a job's training rows, computed at the data's site
 * once, before the job's trials, and written as the `model` blob `engineOutputUuid(task, attempt, 'targets')`.
 */
export interface EngineTeachTask extends EngineTaskCommon, EngineDataSpec {
  job: string;
  teacher: TeacherSpec;
}

/** The task document each kind's claim answer carries. */
export interface TaskOfKind {
  learnuplet: Learnuplet;
  preduplet: Preduplet;
  profile: EngineProfileTask;
  trial: EngineTrialTask;
  final: EngineFinalTask;
  synthesize: EngineSynthesizeTask;
  teach: EngineTeachTask;
}
export type AnyTask = TaskOfKind[TaskKind];

/** What a claim, a heartbeat and a release tell the agent about its lease. */
export interface LeaseTerms {
  attempt: number;
  expires_at: string;
  /** Signed by the orchestrator: opens the task's data blobs and authorises its outputs at the storage gateway, until the lease ends. */
  capability: string;
  /** The blobs (`<kind>/<uuid>`) this lease may write. */
  writes: string[];
}

export interface Lease extends LeaseTerms {
  token: string;
}

export interface ClaimRequest {
  worker: string;
  /** The agent's site (default `default`); a task of another site is refused (403 WRONG_SITE). */
  site?: string;
}

export interface LeaseRequest {
  lease_token: string;
}

/** The seed's key (`learnuplet_worker_set`) carries the uuid; the document and the lease travel beside it. */
export function claimAnswerKey(kind: TaskKind): `${TaskKind}_worker_set` {
  return `${kind}_worker_set`;
}

/** Where each blob of a task lives: `<kind>/<uuid>` → the base URL of the gateway that holds it. */
export type BlobLocations = Record<string, string>;

export type ClaimAnswer<K extends TaskKind> = { [P in `${K}_worker_set`]: string } & { [P in K]: TaskOfKind[K] } & {
  lease: Lease;
  site?: string;
  blob_sites?: Record<string, string>;
  blob_locations?: BlobLocations;
};
export interface HeartbeatAnswer {
  lease: LeaseTerms;
}

/** Reports. Per-file scores: the seed's lists (one per data file, in the task's order) or maps from data uuid to score. */
export type PerItemScores = Record<string, number> | number[];
export interface FailedReport {
  status: 'failed';
  reason: string;
  log_tail?: string;
  /**
   * A deterministic failure (bad input: an unparseable CSV, a filter the data refuses): running it
   * again would fail the same way, so the task fails at once instead of being retried (BullMQ's
   * UnrecoverableError). Absent or false: retried while attempts remain.
   */
  permanent?: boolean;
}
export type LearnDone = { status: 'done'; perf: number; train_perf: PerItemScores; test_perf: PerItemScores };
export type PredDone = { status: 'done'; prediction_storage_uuid: string };
export type ProfileDone = { status: 'done'; profile: Record<string, unknown> };
/** `result` is the Python's result.json; the blobs are `engineOutputUuid(trial, attempt, 'model' | 'oof')`. */
export type TrialDone = { status: 'done'; result: Record<string, unknown>; model_storage_uuid: string; oof_storage_uuid: string };
/** `report` is the Python's report.json; the model is `engineOutputUuid(final, attempt, 'model')`. */
export type FinalDone = { status: 'done'; report: Record<string, unknown>; model_storage_uuid: string };
/** `result` is the Python's result.json; the CSV is the `data` blob `synthDataUuid(task, attempt)`. */
export type SynthesizeDone = { status: 'done'; data_storage_uuid: string; result: Record<string, unknown> };
/** `result` is the Python's result.json (`n_rows`, `source`…); the targets JSON is `engineOutputUuid(task, attempt, 'targets')`. */
export type TeachDone = { status: 'done'; result: Record<string, unknown>; targets_storage_uuid: string };
export interface DoneReportOfKind {
  learnuplet: LearnDone;
  preduplet: PredDone;
  profile: ProfileDone;
  trial: TrialDone;
  final: FinalDone;
  synthesize: SynthesizeDone;
  teach: TeachDone;
}
export type DoneReport = DoneReportOfKind[TaskKind];
export type WorkReport<K extends TaskKind = TaskKind> = (DoneReportOfKind[K] | FailedReport) & { lease_token?: string };

/** Where each kind's report goes: the seed's `/learndone` and `/preddone`, `/worker/{kind}/{uuid}/report` for the others. */
export function reportPath(kind: TaskKind, uuid: string): string {
  if (kind === 'learnuplet') return `/learndone/${uuid}`;
  if (kind === 'preduplet') return `/preddone/${uuid}`;
  return `/worker/${kind}/${uuid}/report`;
}

/** The seed's answer key of each kind's report: `updated_learnuplet`, `updated_preduplet`, `updated_<kind>`. */
export function reportAnswerKey(kind: TaskKind): `updated_${TaskKind}` {
  return `updated_${kind}`;
}

const isoDate = () => Joi.alternatives().try(Joi.date().iso(), Joi.string().isoDate());
const leaseTermsSchema = {
  attempt: Joi.number().integer().min(1).required(),
  expires_at: isoDate().required(),
  capability: Joi.string().required(),
  writes: Joi.array().items(Joi.string()).required(),
};

/** Schemas of the answers, for the contract test (and any client that wants to check). */
export const answerSchemas = {
  claim: (kind: TaskKind) =>
    Joi.object({
      [claimAnswerKey(kind)]: Joi.string().required(),
      [kind]: Joi.object({ uuid: Joi.string().required(), attempt: Joi.number().integer().min(1).required(), status: Joi.string().valid('pending').required() })
        .unknown(true)
        .required(),
      lease: Joi.object({ token: Joi.string().required(), ...leaseTermsSchema }).required(),
      // The agent's site, the site of every blob of the task, and the gateway URL of those held at another site.
      site: Joi.string(),
      blob_sites: Joi.object().pattern(Joi.string(), Joi.string()),
      blob_locations: Joi.object().pattern(Joi.string(), Joi.string().uri({ scheme: ['http', 'https'] })),
    }),
  heartbeat: Joi.object({ lease: Joi.object(leaseTermsSchema).required() }),
  release: (kind: TaskKind) =>
    Joi.object({
      [`released_${kind}`]: Joi.string().required(),
      [kind]: Joi.object({ status: Joi.string().valid('todo').required() })
        .unknown(true)
        .required(),
    }),
  report: (kind: TaskKind) =>
    Joi.object({ [reportAnswerKey(kind)]: Joi.string().required(), [kind]: Joi.object({ uuid: Joi.string().required() }).unknown(true).required() }),
  refusal: Joi.object({ error: Joi.object({ code: Joi.string().required(), message: Joi.string().required(), details: Joi.any() }).required() }),
};
