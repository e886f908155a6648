import type { TaskKind } from '../../shared/contracts/work-contract';
import type { FinalTaskDoc, ProfileTaskDoc, SynthesizeTaskDoc, TeachTaskDoc, TrialDoc } from '../training/engine-documents';

/** The documents the orchestrator stores; field names are the seed contract's. `_id` is always `uuid`. */
export type MetricDirection = 'higher' | 'lower';
export type UpletStatus = 'waiting' | 'todo' | 'pending' | 'done' | 'failed' | 'canceled';
export type PerfMap = Record<string, number>;

export interface ProblemDoc {
  _id: string;
  uuid: string;
  workflow: string;
  test_dataset: string[];
  size_train_dataset: number;
  /** Whether a higher perf is better (default) or a lower one (e.g. a loss). */
  metric_direction: MetricDirection;
  owner: string;
  timestamp_upload: Date;
  /** The site whose gateway holds the workflow (default `default`). */
  site?: string;
  /** Set by cancellation: its queued work is withdrawn and it takes no new algos or predictions. */
  timestamp_canceled?: Date;
}

export interface AlgoDoc {
  _id: string;
  uuid: string;
  name: string;
  problem: string;
  owner: string;
  timestamp_upload: Date;
  /** The site whose gateway holds the algo archive (default `default`). */
  site?: string;
  /** Set by cancellation: its chain's remaining ranks are canceled and new data adds none. */
  timestamp_canceled?: Date;
}

export interface DataDoc {
  _id: string;
  uuid: string;
  problems: string[];
  owner: string;
  timestamp_upload: Date;
  /** Position inside the request that registered it: with the timestamp, the registration order. */
  upload_index: number;
  /** The site whose gateway holds it; it is read only by that site's agents (absent: `default`). */
  site?: string;
}

/** A minibatch of a problem's train data, created once (insert fence on `<problem>/<index>`). */
export interface MinibatchDoc {
  _id: string;
  problem: string;
  index: number;
  train_data: string[];
  timestamp_creation: Date;
  /** The one site all of its train data is at. */
  site?: string;
  /** `<problem>@<site>/<j>`: this is the site's j-th batch (unique: placed at exactly one rank). */
  site_batch?: string;
}

/** What every leased task document has, whatever its kind: the lease machinery reads only these. */
export interface TaskCommon {
  _id: string;
  uuid: string;
  status: UpletStatus;
  worker: string | null;
  /** Number of claims so far; the current lease is `<uuid>/<attempt>` in the leases collection. */
  attempt: number;
  /** How many of those claims were given back unrun (agent stopping, no slot in time): they use up no retry. */
  released_attempts?: number;
  failure_reason: string | null;
  /** When it last became `todo`, for the dispatch sweeper and the dispatch-lag metric. */
  timestamp_todo: Date | null;
  /** When its current attempt was claimed. */
  timestamp_claimed: Date | null;
  timestamp_done: Date | null;
}

interface UpletCommon extends TaskCommon {
  problem: string;
  workflow: string;
  /** The site that runs it: where its train data (a preduplet: its data item) is. Absent: `default`. */
  site?: string;
}

export interface LearnupletDoc extends UpletCommon {
  algo: string;
  rank: number;
  train_data: string[];
  test_data: string[];
  model_start: string | null;
  model_end: string;
  perf: number | null;
  train_perf: PerfMap | null;
  test_perf: PerfMap | null;
  timestamp_creation: Date;
}

export interface PredupletDoc extends UpletCommon {
  data: string;
  model: string;
  algo: string;
  /** The learnuplet whose model_end this prediction uses. */
  learnuplet: string;
  /** The site whose gateway holds the model (that learnuplet's site). */
  model_site?: string;
  owner: string;
  prediction_storage_uuid: string | null;
  timestamp_request: Date;
  /** A prediction with a training-engine model (the model id); the agent then runs the engine's predict. */
  engine_model?: string | null;
}

/** The document of each task kind; the per-kind table (work/task-kinds.ts) says where each lives. */
export interface TaskDocOfKind {
  learnuplet: LearnupletDoc;
  preduplet: PredupletDoc;
  profile: ProfileTaskDoc;
  trial: TrialDoc;
  final: FinalTaskDoc;
  synthesize: SynthesizeTaskDoc;
  teach: TeachTaskDoc;
}
export type TaskDoc = TaskDocOfKind[TaskKind];
export type { TaskKind };
