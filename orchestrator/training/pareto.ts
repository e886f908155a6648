import { higherIsBetter } from './metrics';

/** A candidate for the Pareto front: an id and its metric values (by metric name). */
export interface ScoredPoint {
  id: string;
  values: Readonly<Record<string, number>>;
}

/**
 * Whether `a` dominates `b` over `metrics`: at least as good on every metric (each oriented by
 * its direction) and strictly better on one.
 */
export function dominates(a: ScoredPoint, b: ScoredPoint, metrics: readonly string[]): boolean {
  let strictlyBetter = false;
  for (const name of metrics) {
    const sign = higherIsBetter(name) ? 1 : -1;
    const diff = sign * ((a.values[name] as number) - (b.values[name] as number));
    if (diff < 0) return false;
    if (diff > 0) strictlyBetter = true;
  }
  return strictlyBetter;
}

function isComplete(point: ScoredPoint, metrics: readonly string[]): boolean {
  return metrics.every((name) => Number.isFinite(point.values[name]));
}

/**
 * The non-dominated points, in input order. Points missing a metric (failed trials) take no
 * part. Equal points do not dominate each other, so ties are all kept. O(n² · m): fronts are
 * over a job's trials (hundreds at most).
 */
export function paretoFront<T extends ScoredPoint>(points: readonly T[], metrics: readonly string[]): T[] {
  const candidates = points.filter((point) => isComplete(point, metrics));
  return candidates.filter((point) => !candidates.some((other) => other !== point && dominates(other, point, metrics)));
}
