/** The training APIs as a client sees them: datasets, trainer runs, engine models (dates as ISO strings). */
import type { DatasetProfile, TaskKind } from '../contracts/training-contract';

export type { DatasetProfile, ColumnProfile, RowFilter, TaskKind } from '../contracts/training-contract';

export type DatasetStatus = 'profiling' | 'ready' | 'failed';
export interface Dataset {
  dataset_id: string;
  name: string;
  storage_uuid: string;
  format: 'csv';
  site: string;
  owner: string;
  status: DatasetStatus;
  failure_reason: string | null;
  profile: DatasetProfile | null;
  timestamp_upload: string;
  timestamp_ready: string | null;
}

/** `POST /v1/trainer/run`: only `dataset_id` and `task` are required (README "Trainer run"). */
export interface TrainerRunInput {
  dataset_id: string;
  task: { label_column: string; task_kind: TaskKind };
  filter?: unknown;
  model_types?: string[] | null;
  metrics?: string[] | null;
  strategy?: 'optuna' | 'random';
  n_trials?: number;
  /** null: one holdout split; ≥ 2: k-fold. */
  n_splits?: number | null;
  ensemble?: boolean;
  grid_size?: number | null;
  random_state?: number;
}

/** The trainer's statuses: the engine's pending/running/completed, and failed (with `message: "canceled"` for a cancel). */
export type TrainerRunStatus = 'pending' | 'running' | 'completed' | 'failed';
export interface TrainerRunSummary {
  job_id: string;
  status: TrainerRunStatus;
  message: string | null;
  dataset_id: string;
}
export interface TrainerTrial {
  trial: string;
  row: number;
  index: number;
  family: string;
  status: string;
  params: Record<string, unknown> | null;
  metrics: Record<string, number> | null;
  weights: number[] | null;
  objective: number | null;
}
export interface JobProgress {
  trials_done: number;
  trials_failed: number;
  trials_total: number;
  best_so_far: { trial?: string; objective?: number; metrics?: Record<string, number>; family?: string } | null;
  elapsed_seconds: number | null;
  estimate_seconds: number | null;
}
export interface TrainingReport {
  metrics?: Record<string, number>;
  stats?: Array<Record<string, unknown>>;
  /** One entry per input field (≥ 0, sum 1). */
  field_importance?: Array<Record<string, unknown>> | Record<string, number>;
  data_story?: unknown[];
  model?: Record<string, unknown>;
  [key: string]: unknown;
}
export interface TrainerRun extends TrainerRunSummary {
  metrics: string[];
  model_types: string[];
  strategy: string;
  n_trials: number;
  random_state: number;
  /** Distillation: the teacher's kind, its teach task's status and the training rows it predicted (never its URL or headers); null without one. */
  teacher: { kind: 'url' | 'model'; model_id: string | null; status: string; failure_reason: string | null; rows: number | null } | null;
  progress: JobProgress;
  trials: TrainerTrial[];
  leaderboard: Array<{
    row: number;
    family: string;
    weights: Record<string, number>;
    trials: Array<Pick<TrainerTrial, 'trial' | 'index' | 'objective' | 'metrics' | 'params'>>;
  }>;
  pareto_front: Array<Pick<TrainerTrial, 'trial' | 'row' | 'family' | 'metrics' | 'params'>> | null;
  final_model: { model_id: string; family: string; params: Record<string, unknown>; best_trial: string; kind: string; report: TrainingReport } | null;
}
/** `GET /v1/jobs/{id}`: the engine's own view. */
export interface EngineJobView {
  job: Record<string, unknown> & { job_id: string; status: string; dataset_id: string; model_id?: string | null };
  progress: JobProgress;
  trials: Array<Record<string, unknown>>;
}
export interface EngineModel {
  model_id: string;
  job: string;
  dataset_id: string;
  owner: string;
  site: string;
  family: string;
  params: Record<string, unknown>;
  label_column: string;
  task_kind: TaskKind;
  schema: DatasetProfile;
  report: TrainingReport;
  model_storage_uuid: string;
  best_trial: string;
  timestamp_creation: string;
}
export interface JobListItem {
  job_id: string;
  dataset_id: string;
  owner: string;
  site: string;
  status: 'pending' | 'running' | 'completed' | 'failed' | 'canceled';
  failure_reason: string | null;
  label_column: string;
  task_kind: TaskKind;
  families: string[];
  metrics: string[];
  n_trials: number;
  model_id: string | null;
  timestamp_creation: string;
  timestamp_done: string | null;
}
