import type { ColumnProfile, ColumnType, DatasetProfile, TaskKind } from '../../shared/contracts/training-contract';

export type { ColumnProfile, ColumnType, DatasetProfile } from '../../shared/contracts/training-contract';

/** The Python refuses classification labels with more classes than this (uplet_training README). */
export const MAX_CLASSES = 100;

export function findColumn(profile: DatasetProfile, name: string): ColumnProfile | undefined {
  return profile.columns.find((column) => column.name === name);
}

export function columnKind(profile: DatasetProfile, name: string): ColumnType | undefined {
  return findColumn(profile, name)?.type;
}

export function columnNames(profile: DatasetProfile): string[] {
  return profile.columns.map((column) => column.name);
}

/** Distinct non-missing values: the number of classes the column would have as a label. */
export function classCount(column: ColumnProfile): number {
  return column.distinct;
}

export type LabelCheck = { ok: true } | { ok: false; reason: string };

/**
 * Whether a column can be the label of a task of this kind, by the Python's rules: regression
 * needs a numeric column; classification a category, boolean or numeric column with 2 to
 * MAX_CLASSES classes (one class leaves nothing to learn; text and timestamps are not classes).
 */
export function labelCheck(column: ColumnProfile, taskKind: TaskKind): LabelCheck {
  if (taskKind === 'regression') {
    return column.type === 'numeric' ? { ok: true } : { ok: false, reason: `a regression label must be numeric; ${column.name} is ${column.type}` };
  }
  if (column.type === 'text' || column.type === 'timestamp') {
    return { ok: false, reason: `a classification label must be category, boolean or numeric; ${column.name} is ${column.type}` };
  }
  const classes = classCount(column);
  if (classes < 2) return { ok: false, reason: `a classification label needs at least 2 classes; ${column.name} has ${classes}` };
  if (classes > MAX_CLASSES) return { ok: false, reason: `a classification label may have at most ${MAX_CLASSES} classes; ${column.name} has ${classes}` };
  return { ok: true };
}

export function canBeLabel(column: ColumnProfile, taskKind: TaskKind): boolean {
  return labelCheck(column, taskKind).ok;
}

/**
 * The task kind of a field to predict when the request does not say (the Akkio API): category and
 * boolean → classification; numeric → regression, except a numeric column with exactly 2 values
 * (0/1 flags are profiled as numeric) → classification. Text and timestamps cannot be predicted.
 */
export function inferTaskKind(column: ColumnProfile): TaskKind | undefined {
  if (column.type === 'category' || column.type === 'boolean') return 'classification';
  if (column.type === 'numeric') return column.distinct === 2 ? 'classification' : 'regression';
  return undefined;
}

/** Shares of the label's classes from its top values (categorical columns only), largest first. */
export function classShares(column: ColumnProfile): number[] | undefined {
  if (column.type !== 'category' && column.type !== 'boolean') return undefined;
  const total = column.top_values.reduce((sum, top) => sum + top.count, 0);
  if (total === 0) return undefined;
  return column.top_values.map((top) => top.count / total).sort((a, b) => b - a);
}

/** Share of missing cells over the given columns (all columns when none given). */
export function missingFraction(profile: DatasetProfile, names?: string[]): number {
  const columns = names ? profile.columns.filter((column) => names.includes(column.name)) : profile.columns;
  const cells = columns.length * profile.row_count;
  if (cells === 0) return 0;
  return columns.reduce((sum, column) => sum + column.missing, 0) / cells;
}
