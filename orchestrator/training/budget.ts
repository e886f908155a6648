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
 * 10 s: two fast families, one trial each, on a holdout; 60 s: four families, 2 trials each,
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
  /** Durations of this job's finished trials (all families: the data size dominates). */
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

export interface EstimateQuestion {
  tierSeconds: number;
  startedAtMs: number | null;
  nowMs: number;
  /** True while trials may still be launched; false once only the final task is left. */
  searching: boolean;
  finalTaskMs: number;
}

/**
 * The status's `estimate_seconds`: a pending job, the whole tier; a searching job, what is left
 * of the budget (trials stop so the job ends by then); once only the final task is left, its
 * estimate. At least 1 while unfinished, whole seconds.
 */
export function estimateSeconds(q: EstimateQuestion): number {
  if (q.startedAtMs === null) return q.tierSeconds;
  const left = q.searching ? Math.max(remainingMs(q.tierSeconds, q.startedAtMs, q.nowMs), q.finalTaskMs) : q.finalTaskMs;
  return Math.max(1, Math.ceil(left / 1000));
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
