import type {
  DatasetProfile,
  HistoryEntry,
  JobStatus,
  RowFilter,
  SearchStrategy,
  TaskKind as LearningTaskKind,
} from '../../shared/contracts/training-contract';
import type { EngineFinalTask, EngineProfileTask, EngineSynthesizeTask, EngineTeachTask, EngineTrialTask } from '../../shared/contracts/work-contract';
import type { TaskCommon } from '../domain/documents';

/** The training engine's documents (collections in persistence/collections.ts). `_id` is always the id. */

export type DatasetStatus = 'profiling' | 'ready' | 'failed';

/** A tabular file held at a site's gateway (kind `data`), registered by its provider. */
export interface DatasetDoc {
  _id: string;
  dataset_id: string;
  name: string;
  storage_uuid: string;
  format: 'csv';
  site: string;
  owner: string;
  status: DatasetStatus;
  failure_reason: string | null;
  /** The schema the profile task reported (never rows), once ready. */
  profile: DatasetProfile | null;
  /** The profile task: `<dataset_id>-profile`. */
  profile_task: string;
  timestamp_upload: Date;
  timestamp_ready: Date | null;
  /** Made by a `synthesize` task from an ontology (no provider's data), else absent. */
  synthetic?: boolean;
}

type EngineTaskDoc<T> = TaskCommon & Omit<T, 'uuid' | 'attempt'> & { timestamp_creation: Date };

export type ProfileTaskDoc = EngineTaskDoc<EngineProfileTask> & { profile: DatasetProfile | null };

/** A trial as its agent receives it: the job's profile joined in (and the round's history in its ask). */
export type TrialWorkItem = TrialDoc & { profile: Record<string, unknown> };

/** A registry model's synthetic data (`<model>-synth-<n>`): the CSV blob of the done attempt, else null. */
export type SynthesizeTaskDoc = EngineTaskDoc<EngineSynthesizeTask> & { data_storage_uuid: string | null; result: Record<string, unknown> | null };

export type TrialDoc = Omit<EngineTaskDoc<EngineTrialTask>, 'profile'> & {
  /**
   * Not stored on trials made since 2026-12-05: kept once per job (`job_profiles`; ~6 KB, which
   * FerretDB converted at every read and write of a trial), and the claim joins it into the work item.
   */
  profile?: Record<string, unknown>;
  /**
   * The `trial_rounds` document holding this trial's propose history (`<job>-<row>-<round>`);
   * `ask` is stored without it, so a trial's size does not grow with its study. The claim puts
   * the history back into the agent's work item. Absent on trials made before rounds were stored
   * apart (their `ask` carries its history) and on fixed-params trials (no ask).
   */
  ask_round?: string;
  /** result.json of the done attempt (fold metrics, means, params…), else null. */
  result: Record<string, unknown> | null;
  model_storage_uuid: string | null;
  oof_storage_uuid: string | null;
};

/**
 * One round's propose history, stored once for all its trials: inserted (an insert fence; the
 * history is deterministic, so a duplicate is the same document) before the round's trials.
 */
export interface TrialRoundDoc {
  _id: string;
  job: string;
  row: number;
  round: number;
  history: HistoryEntry[];
  timestamp_creation: Date;
}

export type FinalTaskDoc = EngineTaskDoc<EngineFinalTask> & {
  report: Record<string, unknown> | null;
  model_storage_uuid: string | null;
};

/**
 * A distilled job's teach task (`<job>-teach`), inserted before its job (status `waiting`) so the
 * teacher's headers are never stored anywhere else; they are removed once the task has ended.
 */
export type TeachTaskDoc = EngineTaskDoc<EngineTeachTask> & { result: Record<string, unknown> | null; targets_storage_uuid: string | null };

/** What a job records of its teacher (never its headers); `targets_storage_uuid` and `rows` once the teach task is done. */
export type JobTeacher = ({ kind: 'url'; url: string } | { kind: 'model'; model_id: string }) & {
  teach_task: string;
  targets_storage_uuid?: string | null;
  rows?: number | null;
};

export interface JobEvaluation {
  kind: 'kfold' | 'holdout';
  n_splits?: number;
  train_fraction?: number;
}

/** What a job is: validated against its dataset's profile at submission. */
export interface JobSpec {
  dataset_id: string;
  label_column: string;
  task_kind: LearningTaskKind;
  filters: RowFilter[];
  ignore_fields: string[];
  families: string[];
  metrics: string[];
  strategy: SearchStrategy;
  n_trials: number;
  evaluation: JobEvaluation;
  class_weight: 'balanced' | null;
  random_state: number;
  grid_size: number | null;
  ensemble: boolean;
  /**
   * Wall-clock budget: when the final model is due. A round launches only if a trial (measured)
   * and the final task still fit before it (TrainingEngine.launchable); null: no budget.
   */
  deadline: Date | null;
  /**
   * Hyperparameters fixed by the caller (the registry's training_config): every trial runs them
   * as given, the family's defaults for the rest, instead of asking the search.
   */
  fixed_params?: Record<string, unknown> | null;
  /** Distillation (trainer run): the teacher, whose targets every trial and the final task fit. */
  teacher?: JobTeacher | null;
}

/** One training submission; its status changes only by the winner of a fence in `job_fences`. */
export interface JobDoc extends JobSpec {
  _id: string;
  job_id: string;
  owner: string;
  site: string;
  /** The dataset's data blob (what every task of the job reads). */
  storage_uuid: string;
  /**
   * The profile the job was validated against: every trial and the model read the data with it.
   * Kept apart, in `job_profiles` (JobProfileDoc), and joined where needed: on FerretDB every read
   * of a job converts its whole document, and a list of jobs read them all (a list of 100 of 300
   * jobs: 1.5 s with profiles inside, 0.08 s without). Stored inside by jobs made before 2026-12-06.
   */
  profile?: DatasetProfile;
  status: JobStatus;
  failure_reason: string | null;
  /** The final task (`<job>-final`) and the model (`<job>-model`), once created. */
  final_task: string | null;
  model_id: string | null;
  timestamp_creation: Date;
  timestamp_start: Date | null;
  timestamp_done: Date | null;
}

/** A job as the steps that hand its data spec on read it: with its profile joined. */
export type JobWithProfile = JobDoc & { profile: DatasetProfile };

/** A job's dataset profile (fixed when the job is made), inserted once before the job. */
export interface JobProfileDoc {
  _id: string;
  profile: DatasetProfile;
}

/**
 * A job's status change, inserted once: `<job>/running`, and `<job>/end` shared by the three
 * final statuses (completed, failed, canceled), so exactly one of them ever wins.
 */
export interface JobFenceDoc {
  _id: string;
  job: string;
  status: JobStatus;
  reason: string | null;
  at: Date;
}

/** The model a job produced: usable by preduplets (`POST /prediction {data, model}`). */
export interface EngineModelDoc {
  _id: string;
  model_id: string;
  job: string;
  dataset_id: string;
  owner: string;
  site: string;
  family: string;
  params: Record<string, unknown>;
  label_column: string;
  task_kind: LearningTaskKind;
  /** The dataset's profile: the schema the model predicts on (raw rows of it). */
  schema: DatasetProfile;
  /** report.json of the final task: held-out metrics, stats, importance, data story. */
  report: Record<string, unknown>;
  /** The model blob (kind `model`) written by the final task's lease. */
  model_storage_uuid: string;
  best_trial: string;
  timestamp_creation: Date;
}

export type { TaskKind } from '../../shared/contracts/work-contract';
