/**
 * Wire shapes of the training engine: what the Python half writes (the dataset profile), what
 * the three front doors accept and answer, and what a trial's spec carries. Rules live in
 * orchestrator/training/; this file only names shapes and the closed vocabularies they use.
 */

export const TASK_KINDS = ['classification', 'regression'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

/** Column types as compute-agent/training/python/uplet_training/column_types.py infers them. */
export const COLUMN_TYPES = ['numeric', 'category', 'boolean', 'text', 'timestamp'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

interface ColumnProfileBase {
  name: string;
  missing: number;
  distinct: number;
}
export interface NumericColumnProfile extends ColumnProfileBase {
  type: 'numeric';
  /** null when the column has no value (or std of a single value). */
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
}
export interface TopValue {
  value: string;
  count: number;
}
export interface CategoricalColumnProfile extends ColumnProfileBase {
  type: 'category' | 'boolean';
  /** At most 10, most frequent first, ties by value. Booleans as "true"/"false". */
  top_values: TopValue[];
}
export interface TimestampColumnProfile extends ColumnProfileBase {
  type: 'timestamp';
  /** ISO-8601 UTC with Z, or null when the column has no value. */
  min: string | null;
  max: string | null;
}
export interface TextColumnProfile extends ColumnProfileBase {
  type: 'text';
}
export type ColumnProfile = NumericColumnProfile | CategoricalColumnProfile | TimestampColumnProfile | TextColumnProfile;

/** `profile.json` of the Python `profile` command: the schema of a CSV, never its rows. */
export interface DatasetProfile {
  row_count: number;
  delimiter: string;
  columns: ColumnProfile[];
}

export const FILTER_OPS = ['==', '!=', '<', '<=', '>', '>=', 'is_null', 'is_not_null', 'in', 'not_in'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];
export type FilterScalar = string | number | boolean;

/** A row filter `{col, kind: "cmp", op, value}` as the trainer run takes it and the Python applies it. */
export interface RowFilter {
  col: string;
  kind: 'cmp';
  op: FilterOp;
  value?: FilterScalar | FilterScalar[] | null;
}

/** One problem of a request, FastAPI style (the Akkio 422 `detail` entries use exactly this shape). */
export interface ValidationProblem {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

export const SEARCH_STRATEGIES = ['optuna', 'random'] as const;
export type SearchStrategy = (typeof SEARCH_STRATEGIES)[number];

/** `POST /v1/trainer/run` after Joi (defaults filled in). */
export interface TrainerRunRequest {
  dataset_id: string;
  filter: RowFilter | RowFilter[] | null;
  task: { label_column: string; task_kind: TaskKind };
  model_types: string[] | null;
  metrics: string[] | null;
  strategy: SearchStrategy;
  n_trials: number;
  n_splits: number | null;
  ensemble: boolean;
  grid_size: number | null;
  teacher_model_id: string | null;
  teacher_predict_url: string | null;
  teacher_predict_headers: Record<string, string> | null;
  random_state: number;
}

export const AKKIO_DURATIONS = [10, 60, 300, 1800] as const;
export type AkkioDuration = (typeof AKKIO_DURATIONS)[number];

/** `POST /api/v1/models/train/new` after Joi (defaults filled in, unknown properties dropped). */
export interface AkkioTrainRequest {
  dataset_id: string;
  predict_fields: string[];
  duration: AkkioDuration;
  extra_attention: boolean;
  force: boolean;
  ignore_fields: string[];
}

/** Seed 003's model types; `regression` is the engine's `linear` family. */
export const REGISTRY_MODEL_TYPES = ['decision_tree', 'random_forest', 'regression', 'neural_network'] as const;
export type RegistryModelType = (typeof REGISTRY_MODEL_TYPES)[number];

export const REGISTRY_MODEL_STATUSES = ['draft', 'training', 'trained', 'failed', 'degraded', 'deprecated', 'archived'] as const;
export type RegistryModelStatus = (typeof REGISTRY_MODEL_STATUSES)[number];

export interface RegistryTrainingConfig {
  /** Share of rows used for training: 0.8 = 80 % train. */
  train_test_split: number;
  random_seed: number;
  learning_rate: number | null;
  batch_size: number | null;
}

export const ONTOLOGY_FIELD_TYPES = ['numeric', 'category', 'boolean', 'text', 'timestamp'] as const;
export type OntologyFieldType = (typeof ONTOLOGY_FIELD_TYPES)[number];
export const ONTOLOGY_FIELD_ROLES = ['feature', 'target', 'id', 'ignore'] as const;
export type OntologyFieldRole = (typeof ONTOLOGY_FIELD_ROLES)[number];

export interface OntologyField {
  name: string;
  type: OntologyFieldType;
  role: OntologyFieldRole;
  choices?: string[];
}
export interface Ontology {
  fields: OntologyField[];
}

/** The engine's job statuses (every front door maps them to its own words, see job-status.ts). */
export const JOB_STATUSES = ['pending', 'running', 'completed', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** The statuses a job ends with: no transition leaves them (orchestrator/training/job-status.ts). */
export const FINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'canceled'];

/** Seed 004's four-value enum (a canceled job reads `failed` with message "canceled"). */
export const TRAINER_RUN_STATUSES = ['pending', 'running', 'completed', 'failed'] as const;
export type TrainerRunStatus = (typeof TRAINER_RUN_STATUSES)[number];

/** The Akkio OpenAPI enum. */
export const AKKIO_STATUSES = ['PENDING', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'UNKNOWN_TIMEOUT'] as const;
export type AkkioStatus = (typeof AKKIO_STATUSES)[number];

/** A finished trial's entry in a propose history: `value` null for a failed trial. */
export interface HistoryEntry {
  params: Record<string, unknown> | null;
  value: number | null;
}

/**
 * The `ask` of a Python trial spec: a propose spec plus `index` (the trial runs proposal `index`
 * of that round, and asks for that one only). Values in `history` are scalarised objectives oriented higher-is-better, so
 * the direction is always `maximize`.
 */
export interface TrialAsk {
  strategy: SearchStrategy;
  history: HistoryEntry[];
  round_size: number;
  seed: number;
  index: number;
  direction: 'maximize';
}
