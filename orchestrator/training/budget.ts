import type { AkkioDuration } from '../../shared/contracts/training-contract';
import type { FamilyId } from './families';

/**
 * The Akkio duration tiers as time budgets that are kept, not overshot: what each tier tries,
 * when a job may still launch a trial, and what its status reports.
 *
 * The budget covers everything after the job starts, the final task included: a trial is
 * launched only if (its estimated duration + the final task's estimate) fits in what remains.
 */

export interface TierPlan {
  families: FamilyId[];
  /** At most this many trials per family (the budget usually stops earlier on big data). */
  trialsPerFamily: number;
  /** null = one holdout split (cheaper), else k-fold. */
  nSplits: number | null;
  /** Caruana ensemble of the trials' fold models instead of refitting the winner. */
  ensemble: boolean;
}

/**
 * 10 s: two fast families, one trial each, on a holdout (one family alone was measured worse: a
 * single trial's proposal can be a poor ridge penalty, r² 0.12 on iris' petal length, where the
 * tree's trial rescues it); 60 s: four families, 2 trials each,
 * 3-fold; 300 s: all six, 8 each (two rounds), 5-fold, ensemble; 1800 s: all six, 24 each
 * (six rounds), 5-fold, ensemble.
 */
export const TIER_PLANS: Readonly<Record<AkkioDuration, TierPlan>> = {
  10: { families: ['decision_tree', 'linear'], trialsPerFamily: 1, nSplits: null, ensemble: false },
  60: { families: ['decision_tree', 'random_forest', 'linear', 'hist_gradient_boosting'], trialsPerFamily: 2, nSplits: 3, ensemble: false },
  300: {
    families: ['decision_tree', 'random_forest', 'linear', 'neural_network', 'hist_gradient_boosting', 'xgboost'],
    trialsPerFamily: 8,
    nSplits: 5,
    ensemble: true,
  },
  1800: {
    families: ['decision_tree', 'random_forest', 'linear', 'neural_network', 'hist_gradient_boosting', 'xgboost'],
    trialsPerFamily: 24,
    nSplits: 5,
    ensemble: true,
  },
};

export function tierPlan(duration: AkkioDuration): TierPlan {
  return TIER_PLANS[duration];
}

/**
 * Seconds a trial of each family is assumed to take before any has been measured: the measured
 * 2.2 s of a 5-fold forest on 178 rows in the sandbox (DESIGN.md) rounded up, scaled by
 * family cost, including the agent's ~1 s of Python imports.
 */
export const FAMILY_PRIOR_SECONDS: Readonly<Record<FamilyId, number>> = {
  decision_tree: 2,
  linear: 2,
  random_forest: 4,
  hist_gradient_boosting: 4,
  xgboost: 5,
  neural_network: 8,
};

/** Before the first measurement, the final task (refit + importance + story) is assumed to take this. */
export const FINAL_TASK_PRIOR_SECONDS = 6;
/** The final task refits once and permutes each field 5 times: about 3 trials' worth. */
export const FINAL_TASK_TRIAL_MULTIPLE = 3;

/** Nearest-rank 90th percentile; undefined for no values. */
export function p90(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.9 * sorted.length) - 1];
}

/** A trial's expected duration: p90 of the measured ones, else the family's prior. */
export function trialEstimateMs(family: FamilyId, measuredTrialMs: readonly number[]): number {
  return p90(measuredTrialMs) ?? FAMILY_PRIOR_SECONDS[family] * 1000;
}

/** The final task's expected duration from the trials measured so far. */
export function finalTaskEstimateMs(measuredTrialMs: readonly number[]): number {
  const trial = p90(measuredTrialMs);
  return trial === undefined ? FINAL_TASK_PRIOR_SECONDS * 1000 : Math.max(FINAL_TASK_PRIOR_SECONDS * 1000, FINAL_TASK_TRIAL_MULTIPLE * trial);
}

export interface LaunchQuestion {
  remainingMs: number;
  family: FamilyId;
  /** Launch-to-result durations of this job's finished trials of this family. */
  measuredTrialMs: readonly number[];
  finalTaskMs: number;
}

/** Launch a trial only if it and the final task both fit in what remains of the budget. */
export function shouldLaunch(q: LaunchQuestion): boolean {
  return trialEstimateMs(q.family, q.measuredTrialMs) + q.finalTaskMs <= q.remainingMs;
}

export function remainingMs(tierSeconds: number, startedAtMs: number, nowMs: number): number {
  return tierSeconds * 1000 - (nowMs - startedAtMs);
}

/** A finished trial as the budget sees it. */
export interface MeasuredTrial {
  family: string;
  /** From its creation (launch) to its result: queueing on busy agents included, as the budget pays it. */
  ms: number;
}

/** Per family, the measured durations; and all of them (the final task's estimate). */
export function measuredByFamily(trials: readonly MeasuredTrial[]): { byFamily: Map<string, number[]>; all: number[] } {
  const byFamily = new Map<string, number[]>();
  for (const t of trials) byFamily.set(t.family, [...(byFamily.get(t.family) ?? []), t.ms]);
  return { byFamily, all: trials.map((t) => t.ms) };
}

export interface JobRemainingQuestion {
  nowMs: number;
  /** The job's end (its budget), or null: unbudgeted. */
  deadlineMs: number | null;
  /** Per row, its family and how many of its rounds are not finished yet (a running one included). */
  rows: ReadonlyArray<{ family: FamilyId; roundsLeft: number }>;
  measured: readonly MeasuredTrial[];
  /** When the final task was created, or null while searching. */
  finalStartedAtMs: number | null;
}

/**
 * What is left of a job, in ms, from the measured trial durations: while searching, the slowest
 * row's rounds left (rows run side by side, a row's rounds one after another) at its family's
 * estimate, capped by what the budget still lets it launch, then the final task; once the
 * final task runs, what is left of its estimate.
 */
export function jobRemainingMs(q: JobRemainingQuestion): number {
  const { byFamily, all } = measuredByFamily(q.measured);
  const finalMs = finalTaskEstimateMs(all);
  if (q.finalStartedAtMs !== null) return Math.max(0, finalMs - (q.nowMs - q.finalStartedAtMs));
  let searchMs = Math.max(0, ...q.rows.map((r) => r.roundsLeft * trialEstimateMs(r.family, byFamily.get(r.family) ?? [])));
  if (q.deadlineMs !== null) searchMs = Math.min(searchMs, Math.max(0, q.deadlineMs - q.nowMs - finalMs));
  return searchMs + finalMs;
}

/** The status's `estimate_seconds`: whole seconds, at least 1 while unfinished. */
export function estimateSeconds(remaining: number): number {
  return Math.max(1, Math.ceil(remaining / 1000));
}

/**
 * When an unfinished job's Akkio status turns UNKNOWN_TIMEOUT: tier × 1.5 + 30 s after it
 * started. The 50 % covers a slow final task and retried tasks; the 30 s covers queueing and an
 * agent's start-up on a small tier (10 s → 45 s, 1800 s → 2730 s).
 */
export const UNKNOWN_TIMEOUT_FACTOR = 1.5;
export const UNKNOWN_TIMEOUT_EXTRA_SECONDS = 30;

export function unknownTimeoutMs(tierSeconds: number): number {
  return (tierSeconds * UNKNOWN_TIMEOUT_FACTOR + UNKNOWN_TIMEOUT_EXTRA_SECONDS) * 1000;
}
