import type { HistoryEntry, SearchStrategy, TrialAsk } from '../../shared/contracts/training-contract';
import type { FamilyId } from './families';
import { orient } from './metrics';
import { deriveSeed } from './seeds';

/**
 * The study of a job as data: the matrix (model family × metric weighting), the trials of each
 * row, and the fixed-size rounds in which they are proposed.
 *
 * Reproducibility: a row's trials are proposed in rounds of ROUND_SIZE. A trial's proposal is
 * computed by the Python `propose` from (the row's seed, the params and objective values of
 * rounds 0…k−1 in trial-index order, its index in round k), and nothing else (each trial asks
 * for its own proposal only). A round starts only when
 * every trial of the rounds before it has finished, so whatever the number of agents and
 * whatever order trials finish in, every trial gets the same params: results depend on
 * `random_state` only.
 */

/**
 * Trials proposed together. 4: enough parallelism for a few agents per row (rows also run in
 * parallel), while TPE still sees a history that grows every 4 trials (the default n_trials,
 * 4, is one round). Changing it changes every job's proposals: it is part of the contract.
 */
export const ROUND_SIZE = 4;

export interface StudyRow {
  /** Position in the matrix: families outermost, weightings inside. */
  row: number;
  family: FamilyId;
  /** One weight per job metric (same order), summing to 1. */
  weights: number[];
  /** deriveSeed(random_state, 'row', row): the propose seed of every round of this row. */
  seed: number;
  nTrials: number;
}

export interface StudyPlan {
  jobId: string;
  metrics: string[];
  strategy: SearchStrategy;
  randomState: number;
  roundSize: number;
  rows: StudyRow[];
}

export interface StudyPlanInput {
  jobId: string;
  families: readonly FamilyId[];
  /** Canonical metric names, the first the objective (metrics.resolveMetrics). */
  metrics: readonly string[];
  gridSize: number | null;
  nTrials: number;
  randomState: number;
  strategy: SearchStrategy;
}

/**
 * Every weight vector of `dimensions` components in {0, 1/g, …, 1} summing to 1 (the simplex
 * grid of step 1/g): C(g + d − 1, d − 1) points, in lexicographic order from [1, 0, …, 0].
 */
export function simplexGrid(dimensions: number, gridSize: number): number[][] {
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new RangeError('dimensions must be an integer ≥ 1');
  if (!Number.isInteger(gridSize) || gridSize < 1) throw new RangeError('gridSize must be an integer ≥ 1');
  const points: number[][] = [];
  const walk = (prefix: number[], left: number) => {
    if (prefix.length === dimensions - 1) {
      points.push([...prefix, left].map((steps) => steps / gridSize));
      return;
    }
    for (let steps = left; steps >= 0; steps--) walk([...prefix, steps], left - steps);
  };
  walk([], gridSize);
  return points;
}

/**
 * The metric weightings of a job: one metric → [[1]]; several without grid_size → optimise
 * the first ([1, 0, …]; the others are still computed and reported); several with grid_size g
 * → every point of the simplex grid of step 1/g (a Pareto sweep).
 */
export function metricWeightings(metricCount: number, gridSize: number | null): number[][] {
  if (metricCount <= 1) return [[1]];
  if (gridSize === null) return [Array.from({ length: metricCount }, (_, i) => (i === 0 ? 1 : 0))];
  return simplexGrid(metricCount, gridSize);
}

export function planStudy(input: StudyPlanInput): StudyPlan {
  const weightings = metricWeightings(input.metrics.length, input.gridSize);
  const rows: StudyRow[] = [];
  for (const family of input.families) {
    for (const weights of weightings) {
      const row = rows.length;
      rows.push({ row, family, weights, seed: rowSeed(input.randomState, row), nTrials: input.nTrials });
    }
  }
  return { jobId: input.jobId, metrics: [...input.metrics], strategy: input.strategy, randomState: input.randomState, roundSize: ROUND_SIZE, rows };
}

export function rowSeed(randomState: number, row: number): number {
  return deriveSeed(randomState, 'row', row);
}

/** The seed a trial's estimators get: deriveSeed(random_state, 'trial', row, index). */
export function trialSeed(randomState: number, row: number, index: number): number {
  return deriveSeed(randomState, 'trial', row, index);
}

/** `<jobId>-<row>-<index>`: a trial is found from its job, row and index without a search. */
export function trialId(jobId: string, row: number, index: number): string {
  return `${jobId}-${row}-${index}`;
}

export function roundOf(index: number, roundSize = ROUND_SIZE): number {
  return Math.floor(index / roundSize);
}

export function roundCount(nTrials: number, roundSize = ROUND_SIZE): number {
  return Math.ceil(nTrials / roundSize);
}

/** Trial indices of round k: k·R … min((k+1)·R, nTrials) − 1. */
export function roundTrialIndices(round: number, nTrials: number, roundSize = ROUND_SIZE): number[] {
  const first = round * roundSize;
  const end = Math.min(first + roundSize, nTrials);
  return Array.from({ length: Math.max(0, end - first) }, (_, i) => first + i);
}

/**
 * A trial's objective: Σ wᵢ · (metricᵢ oriented so higher is better). Metrics of weight 0 are
 * not read; null when a weighted metric is missing or not finite (the trial counts as failed).
 */
export function scalarObjective(metrics: readonly string[], weights: readonly number[], values: Readonly<Record<string, number>>): number | null {
  let sum = 0;
  for (let i = 0; i < metrics.length; i++) {
    const weight = weights[i] ?? 0;
    if (weight === 0) continue;
    const name = metrics[i] as string;
    const value = values[name];
    if (value === undefined || !Number.isFinite(value)) return null;
    sum += weight * orient(name, value);
  }
  return sum;
}

export type TrialOutcome = 'created' | 'running' | 'done' | 'failed';

/** What the plan needs of one trial document. */
export interface TrialState {
  index: number;
  status: TrialOutcome;
  /** The resolved params the trial reported (done), or null (not run, or failed before reporting). */
  params: Record<string, unknown> | null;
  /** Mean metric values over folds (done), else null. */
  metrics: Record<string, number> | null;
}

export function isFinished(trial: TrialState): boolean {
  return trial.status === 'done' || trial.status === 'failed';
}

/**
 * The propose history of round k: the row's trials of rounds 0…k−1 in trial-index order, each
 * {params, value: scalar objective, or null when failed}. Throws if one of them is missing or
 * unfinished (the round must not be proposed yet).
 */
export function historyForRound(plan: StudyPlan, row: StudyRow, trials: readonly TrialState[], round: number): HistoryEntry[] {
  return roundEntries(plan, row, trials, 0, round);
}

/**
 * The history of round k + 1 from round k's (stored) and round k's trials: what historyForRound
 * gives for k + 1, without reading the rounds before k again. Throws if one of round k's trials
 * is missing or unfinished.
 */
export function extendHistory(plan: StudyPlan, row: StudyRow, previous: readonly HistoryEntry[], trials: readonly TrialState[], round: number): HistoryEntry[] {
  if (previous.length !== Math.min(round * plan.roundSize, row.nTrials))
    throw new Error(`round ${round} of row ${row.row} has a history of ${previous.length} entries`);
  return [...previous, ...roundEntries(plan, row, trials, round, round + 1)];
}

/** The history entries of the row's rounds from…to − 1, in trial-index order. */
function roundEntries(plan: StudyPlan, row: StudyRow, trials: readonly TrialState[], from: number, to: number): HistoryEntry[] {
  const byIndex = new Map(trials.map((trial) => [trial.index, trial]));
  const history: HistoryEntry[] = [];
  for (let index = from * plan.roundSize; index < to * plan.roundSize && index < row.nTrials; index++) {
    const trial = byIndex.get(index);
    if (!trial || !isFinished(trial)) throw new Error(`trial ${index} of row ${row.row} is not finished; round ${to} cannot be proposed`);
    const value = trial.status === 'done' && trial.metrics ? scalarObjective(plan.metrics, row.weights, trial.metrics) : null;
    history.push({ params: trial.params, value });
  }
  return history;
}

/** The `trial_rounds` document of a row's round k: its propose history, stored once for the round's trials. */
export function trialRoundId(jobId: string, row: number, round: number): string {
  return `${jobId}-${row}-round-${round}`;
}

/** A trial's ask as stored on its document: without its round's history (TrialRoundDoc holds it once). */
export type StoredAsk = Omit<TrialAsk, 'history'>;

/**
 * The stored ask of trial `index`: its round's propose spec (always `round_size` = ROUND_SIZE,
 * even for a short last round, so n_trials 5 and n_trials 8 share their first 5 trials) and its
 * position in the round.
 */
export function storedAskForTrial(plan: StudyPlan, row: StudyRow, index: number): StoredAsk {
  const round = roundOf(index, plan.roundSize);
  return { strategy: plan.strategy, round_size: plan.roundSize, seed: row.seed, index: index - round * plan.roundSize, direction: 'maximize' };
}

/** The ask the agent runs: the stored ask with its round's history, its keys in the order the wire has always had. */
export function withHistory(ask: StoredAsk, history: HistoryEntry[]): TrialAsk {
  const { strategy, round_size, seed, index, direction } = ask;
  return { strategy, history, round_size, seed, index, direction };
}

/** The `ask` of trial `index`, with the history of the rows' earlier rounds. */
export function askForTrial(plan: StudyPlan, row: StudyRow, index: number, trials: readonly TrialState[]): TrialAsk {
  return withHistory(storedAskForTrial(plan, row, index), historyForRound(plan, row, trials, roundOf(index, plan.roundSize)));
}

export type NextRound = { kind: 'create'; round: number; indices: number[] } | { kind: 'wait' } | { kind: 'complete' };

/**
 * Which trials of a row to create now: the next round's once every created trial has finished;
 * nothing while one is unfinished; `complete` when all nTrials have finished.
 */
export function nextRound(row: StudyRow, trials: readonly TrialState[], roundSize = ROUND_SIZE): NextRound {
  if (trials.some((trial) => !isFinished(trial))) return { kind: 'wait' };
  const created = new Set(trials.map((trial) => trial.index));
  for (let round = 0; round < roundCount(row.nTrials, roundSize); round++) {
    const indices = roundTrialIndices(round, row.nTrials, roundSize);
    const missing = indices.filter((index) => !created.has(index));
    if (missing.length === indices.length) return { kind: 'create', round, indices };
    if (missing.length > 0) return { kind: 'create', round, indices: missing }; // a partly created round (a crash between inserts)
  }
  return { kind: 'complete' };
}
