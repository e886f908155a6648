import type { TaskKind } from '../../shared/contracts/training-contract';
import { UnknownMetricError } from '../../shared/errors/training-errors';
import { UnprocessableError } from '../../shared/errors/uplet-error';

/**
 * Metric names as the Python computes them (uplet_training/metrics.py): which task kind each
 * belongs to and whether higher is better. `neg_<name>` is the negation, so its direction flips;
 * `roc_auc` is an alias of `auc`.
 */
export const BASE_METRICS = {
  accuracy: { taskKind: 'classification', higherIsBetter: true },
  balanced_accuracy: { taskKind: 'classification', higherIsBetter: true },
  f1: { taskKind: 'classification', higherIsBetter: true },
  precision: { taskKind: 'classification', higherIsBetter: true },
  recall: { taskKind: 'classification', higherIsBetter: true },
  auc: { taskKind: 'classification', higherIsBetter: true },
  log_loss: { taskKind: 'classification', higherIsBetter: false },
  class_error: { taskKind: 'classification', higherIsBetter: false },
  rmse: { taskKind: 'regression', higherIsBetter: false },
  mae: { taskKind: 'regression', higherIsBetter: false },
  r2: { taskKind: 'regression', higherIsBetter: true },
} as const satisfies Record<string, { taskKind: TaskKind; higherIsBetter: boolean }>;
export type BaseMetric = keyof typeof BASE_METRICS;

export const METRIC_ALIASES: Readonly<Record<string, BaseMetric>> = { roc_auc: 'auc' };

/**
 * Defaults when a request gives no metrics. Classification: `accuracy`, not `auc` for binary
 * labels, because it is the Python's default too (one rule on both sides), it reads the same for
 * binary and multiclass, and the registry reports accuracy first. Regression: `rmse`.
 */
export const DEFAULT_METRICS: Readonly<Record<TaskKind, readonly string[]>> = {
  classification: ['accuracy'],
  regression: ['rmse'],
};

export interface MetricInfo {
  /** Canonical form: aliases resolved (`neg_roc_auc` → `neg_auc`). */
  name: string;
  base: BaseMetric;
  negated: boolean;
  taskKind: TaskKind;
  higherIsBetter: boolean;
}

function isBaseMetric(name: string): name is BaseMetric {
  return Object.prototype.hasOwnProperty.call(BASE_METRICS, name);
}

/** Every accepted name (aliases included), optionally for one task kind. */
export function knownMetrics(taskKind?: TaskKind): string[] {
  const fits = (base: BaseMetric) => taskKind === undefined || BASE_METRICS[base].taskKind === taskKind;
  const names = (Object.keys(BASE_METRICS) as BaseMetric[]).filter(fits) as string[];
  names.push(...Object.keys(METRIC_ALIASES).filter((alias) => fits(METRIC_ALIASES[alias] as BaseMetric)));
  return [...names, ...names.map((name) => `neg_${name}`)];
}

/** The metric behind a name; UnknownMetricError (422) listing the known names otherwise. */
export function parseMetric(name: string): MetricInfo {
  const negated = name.startsWith('neg_');
  const raw = negated ? name.slice(4) : name;
  const base = isBaseMetric(raw) ? raw : Object.prototype.hasOwnProperty.call(METRIC_ALIASES, raw) ? METRIC_ALIASES[raw] : undefined;
  if (base === undefined) throw new UnknownMetricError(name, knownMetrics());
  const { taskKind, higherIsBetter } = BASE_METRICS[base];
  return { name: negated ? `neg_${base}` : base, base, negated, taskKind, higherIsBetter: higherIsBetter !== negated };
}

export function canonicalMetric(name: string): string {
  return parseMetric(name).name;
}

export function higherIsBetter(name: string): boolean {
  return parseMetric(name).higherIsBetter;
}

/** A metric of this task kind, else UnknownMetricError listing that kind's metrics. */
export function checkMetric(name: string, taskKind: TaskKind): MetricInfo {
  const info = parseMetric(name);
  if (info.taskKind !== taskKind) {
    throw new UnknownMetricError(
      name,
      knownMetrics(taskKind),
      `metric ${name} is for ${info.taskKind}, not ${taskKind}; known for ${taskKind}: ${knownMetrics(taskKind).join(', ')}`,
    );
  }
  return info;
}

/**
 * The request's metrics in canonical form (the first is the objective), or the default for the
 * task kind when null or empty. The same metric twice (`auc` and `roc_auc`) is refused: it
 * would weigh one metric twice in a weighting.
 */
export function resolveMetrics(requested: readonly string[] | null | undefined, taskKind: TaskKind): string[] {
  if (!requested || requested.length === 0) return [...DEFAULT_METRICS[taskKind]];
  const names = requested.map((name) => checkMetric(name, taskKind).name);
  const bases = names.map((name) => parseMetric(name).base);
  const repeated = bases.find((base, i) => bases.indexOf(base) !== i);
  if (repeated !== undefined) throw new UnprocessableError(`metric ${repeated} is given twice`, { code: 'DUPLICATE_METRIC', details: { metrics: requested } });
  return names;
}

/** The value in its higher-is-better orientation (so values of different metrics can be summed). */
export function orient(name: string, value: number): number {
  return higherIsBetter(name) ? value : -value;
}
