/** The documents and answers of the orchestrator's API as a client sees them (dates as ISO strings). */
export type UpletStatus = 'waiting' | 'todo' | 'pending' | 'done' | 'failed' | 'canceled';
export type MetricDirection = 'higher' | 'lower';
export const FINAL_STATUSES: readonly UpletStatus[] = ['done', 'failed', 'canceled'];

export interface Problem {
  uuid: string;
  workflow: string;
  test_dataset: string[];
  size_train_dataset: number;
  metric_direction: MetricDirection;
  owner: string;
  timestamp_upload: string;
  timestamp_canceled?: string;
}
export interface ProblemDetail extends Problem {
  minibatches: number;
  train_data_waiting: string[];
}
export interface Algo {
  uuid: string;
  name: string;
  problem: string;
  owner: string;
  timestamp_upload: string;
  timestamp_canceled?: string;
}
export interface Data {
  uuid: string;
  problems: string[];
  owner: string;
  timestamp_upload: string;
}
interface TaskFields {
  uuid: string;
  status: UpletStatus;
  worker: string | null;
  attempt: number;
  failure_reason: string | null;
  timestamp_done: string | null;
}
export interface LearnupletDocument extends TaskFields {
  problem: string;
  algo: string;
  workflow: string;
  rank: number;
  train_data: string[];
  test_data: string[];
  model_start: string | null;
  model_end: string;
  perf: number | null;
  train_perf: Record<string, number> | null;
  test_perf: Record<string, number> | null;
  timestamp_creation: string;
}
export interface PredupletDocument extends TaskFields {
  problem: string;
  workflow: string;
  data: string;
  model: string;
  algo: string;
  learnuplet: string;
  owner: string;
  prediction_storage_uuid: string | null;
  timestamp_request: string;
}
export interface LeaderboardRow {
  algo: string;
  name: string;
  owner: string;
  best_perf: number | null;
  model: string | null;
  learnuplet: string | null;
  rank: number | null;
  ranks: number;
  by_status: Partial<Record<UpletStatus, number>>;
}
export interface Leaderboard {
  problem: string;
  metric_direction: MetricDirection;
  leaderboard: LeaderboardRow[];
}
export interface CancelOutcome {
  canceled_learnuplets: number;
  canceled_preduplets: number;
}

/** The documents of each collection and the filters GET /{collection} accepts. */
export interface Collections {
  problem: { doc: Problem; filters: { uuid?: string; workflow?: string; owner?: string } };
  algo: { doc: Algo; filters: { uuid?: string; problem?: string; name?: string; owner?: string } };
  data: { doc: Data; filters: { uuid?: string; problems?: string; owner?: string } };
  learnuplet: {
    doc: LearnupletDocument;
    filters: { uuid?: string; problem?: string; algo?: string; status?: UpletStatus; rank?: number; worker?: string; model_end?: string };
  };
  preduplet: {
    doc: PredupletDocument;
    filters: { uuid?: string; problem?: string; algo?: string; status?: UpletStatus; data?: string; worker?: string; owner?: string };
  };
}
export type CollectionName = keyof Collections;

/** One algo's chain: its ranks in order. */
export interface Chain {
  algo: Algo;
  links: LearnupletDocument[];
  finished: boolean;
}
