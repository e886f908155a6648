import { REGISTRY_MODEL_TYPES, type TaskKind } from '../../shared/contracts/training-contract';
import { UnknownFamilyError } from '../../shared/errors/training-errors';

/**
 * The model families the compute agent ships (compute-agent/training/python/uplet_training/families.py).
 * Their hyperparameter spaces stay in Python, the one source of truth; the orchestrator needs
 * only the ids, the task kinds each supports and which to pick when the request names none.
 */
export const FAMILY_IDS = ['decision_tree', 'random_forest', 'linear', 'neural_network', 'hist_gradient_boosting', 'xgboost'] as const;
export type FamilyId = (typeof FAMILY_IDS)[number];

export interface FamilyInfo {
  id: FamilyId;
  description: string;
  taskKinds: readonly TaskKind[];
}

const BOTH: readonly TaskKind[] = ['classification', 'regression'];

export const FAMILY_CATALOGUE: Readonly<Record<FamilyId, FamilyInfo>> = {
  decision_tree: { id: 'decision_tree', description: 'A single CART decision tree.', taskKinds: BOTH },
  random_forest: { id: 'random_forest', description: 'A random forest of CART trees.', taskKinds: BOTH },
  linear: { id: 'linear', description: 'Logistic regression (classification) or ridge regression (regression).', taskKinds: BOTH },
  neural_network: { id: 'neural_network', description: 'A multi-layer perceptron (scikit-learn MLP).', taskKinds: BOTH },
  hist_gradient_boosting: { id: 'hist_gradient_boosting', description: "scikit-learn's histogram gradient boosting.", taskKinds: BOTH },
  xgboost: { id: 'xgboost', description: 'XGBoost gradient-boosted trees (hist).', taskKinds: BOTH },
};

/** Other names accepted for a family: seed 003's `regression` is the engine's `linear`. */
export const FAMILY_ALIASES: Readonly<Record<string, FamilyId>> = { regression: 'linear' };

export function isFamilyId(name: string): name is FamilyId {
  return (FAMILY_IDS as readonly string[]).includes(name);
}

/** The family id of a name or alias; UnknownFamilyError (422) listing the known ids otherwise. */
export function resolveFamily(name: string): FamilyId {
  if (isFamilyId(name)) return name;
  const aliased = Object.prototype.hasOwnProperty.call(FAMILY_ALIASES, name) ? FAMILY_ALIASES[name] : undefined;
  if (aliased) return aliased;
  throw new UnknownFamilyError(name, FAMILY_IDS);
}

/** The family behind a registry model type; only seed 003's four types are accepted there. */
export function familyOfRegistryType(type: string): FamilyId {
  if (!(REGISTRY_MODEL_TYPES as readonly string[]).includes(type)) throw new UnknownFamilyError(type, REGISTRY_MODEL_TYPES);
  return resolveFamily(type);
}

export function familySupports(id: FamilyId, taskKind: TaskKind): boolean {
  return FAMILY_CATALOGUE[id].taskKinds.includes(taskKind);
}

/** What the default family choice looks at. */
export interface DatasetShape {
  /** Rows available for training (after filters). */
  rows: number;
  /** Input columns (not the label, not ignored). */
  features: number;
  taskKind: TaskKind;
  /** Classes of the label (classification), else ignored. */
  classCount?: number;
}

export const SMALL_DATA_ROWS = 1_000;
export const NEURAL_NETWORK_MIN_ROWS = 500;
export const NEURAL_NETWORK_MIN_ROWS_PER_CLASS = 50;

/**
 * The families tried when a request names none, from the dataset's shape:
 *
 * - always `decision_tree`, `random_forest`, `linear`: cheap, robust on any size, and together
 *   they cover axis-aligned, bagged and linear structure;
 * - `neural_network` with at least 500 rows and, for classification, at least 50 rows per class
 *   (an MLP overfits or fails to converge below that);
 * - `hist_gradient_boosting` and `xgboost` from 1,000 rows (below, boosting adds little over a
 *   forest and its early iterations fit noise).
 *
 * Returned in catalogue order, so the matrix rows (and their seeds) are stable.
 */
export function defaultFamilies(shape: DatasetShape): FamilyId[] {
  const chosen = new Set<FamilyId>(['decision_tree', 'random_forest', 'linear']);
  const perClass = shape.taskKind === 'classification' && shape.classCount ? shape.rows / shape.classCount : Infinity;
  if (shape.rows >= NEURAL_NETWORK_MIN_ROWS && perClass >= NEURAL_NETWORK_MIN_ROWS_PER_CLASS) chosen.add('neural_network');
  if (shape.rows >= SMALL_DATA_ROWS) {
    chosen.add('hist_gradient_boosting');
    chosen.add('xgboost');
  }
  return FAMILY_IDS.filter((id) => chosen.has(id) && familySupports(id, shape.taskKind));
}

/** The request's families (resolved, duplicates dropped, order kept) or the default for the shape. */
export function chooseFamilies(requested: readonly string[] | null | undefined, shape: DatasetShape): FamilyId[] {
  if (!requested || requested.length === 0) return defaultFamilies(shape);
  const ids: FamilyId[] = [];
  for (const name of requested) {
    const id = resolveFamily(name);
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}
