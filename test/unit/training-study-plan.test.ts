import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { TrialAsk } from '../../shared/contracts/training-contract';
import { dominates, paretoFront, type ScoredPoint } from '../../orchestrator/training/pareto';
import { deriveSeed } from '../../orchestrator/training/seeds';
import {
  askForTrial,
  extendHistory,
  historyForRound,
  metricWeightings,
  nextRound,
  planStudy,
  ROUND_SIZE,
  roundTrialIndices,
  rowSeed,
  scalarObjective,
  simplexGrid,
  trialId,
  trialSeed,
  type StudyPlan,
  type TrialState,
} from '../../orchestrator/training/study-plan';

describe('seeds', () => {
  test('identical to the Python derive_seed (values printed by uplet_training.seeds)', () => {
    expect(deriveSeed(42, 'folds')).toBe(2125525308);
    expect(deriveSeed(42, 'row', 0)).toBe(168280727);
    expect(deriveSeed(7, 'trial', 2, 5)).toBe(1872111965);
    expect(deriveSeed(42, 'round', 0)).toBe(1953500105);
  });

  test('row and trial seeds differ by row, index and random_state', () => {
    expect(rowSeed(42, 0)).toBe(168280727);
    expect(new Set([trialSeed(42, 0, 0), trialSeed(42, 0, 1), trialSeed(42, 1, 0), trialSeed(43, 0, 0)]).size).toBe(4);
  });
});

describe('matrix', () => {
  test('simplex grid: 2 metrics g=4 → 5 points, 3 metrics g=2 → 6, each summing to 1', () => {
    expect(simplexGrid(2, 4)).toEqual([
      [1, 0],
      [0.75, 0.25],
      [0.5, 0.5],
      [0.25, 0.75],
      [0, 1],
    ]);
    const three = simplexGrid(3, 2);
    expect(three).toHaveLength(6);
    expect(three).toContainEqual([0.5, 0, 0.5]);
    for (const point of three) expect(point.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(new Set(three.map((p) => p.join())).size).toBe(6);
  });

  test('weightings: one metric, several without grid (first only), several with grid', () => {
    expect(metricWeightings(1, 5)).toEqual([[1]]);
    expect(metricWeightings(3, null)).toEqual([[1, 0, 0]]);
    expect(metricWeightings(2, 1)).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });

  test('rows are families × weightings with per-row seeds', () => {
    const plan = planStudy({
      jobId: 'job1',
      families: ['linear', 'xgboost'],
      metrics: ['auc', 'neg_class_error'],
      gridSize: 2,
      nTrials: 6,
      randomState: 42,
      strategy: 'optuna',
    });
    expect(plan.rows.map((r) => [r.row, r.family, r.weights])).toEqual([
      [0, 'linear', [1, 0]],
      [1, 'linear', [0.5, 0.5]],
      [2, 'linear', [0, 1]],
      [3, 'xgboost', [1, 0]],
      [4, 'xgboost', [0.5, 0.5]],
      [5, 'xgboost', [0, 1]],
    ]);
    expect(plan.rows[0]?.seed).toBe(168280727);
    expect(trialId('job1', 3, 5)).toBe('job1-3-5');
  });

  test('rounds of ROUND_SIZE, the last one short', () => {
    expect(ROUND_SIZE).toBe(4);
    expect(roundTrialIndices(0, 10)).toEqual([0, 1, 2, 3]);
    expect(roundTrialIndices(2, 10)).toEqual([8, 9]);
    expect(roundTrialIndices(3, 10)).toEqual([]);
  });

  test('scalar objective orients each weighted metric so higher is better', () => {
    expect(scalarObjective(['accuracy', 'log_loss'], [0.5, 0.5], { accuracy: 0.8, log_loss: 0.4 })).toBeCloseTo(0.2, 12);
    expect(scalarObjective(['rmse'], [1], { rmse: 3 })).toBe(-3);
    expect(scalarObjective(['auc', 'mae'], [1, 0], { auc: 0.9 })).toBe(0.9);
    expect(scalarObjective(['auc', 'mae'], [0.5, 0.5], { auc: 0.9 })).toBeNull();
  });
});

describe('nextRound', () => {
  const row = { row: 0, family: 'linear' as const, weights: [1], seed: 1, nTrials: 6 };
  const t = (index: number, status: TrialState['status']): TrialState => ({ index, status, params: null, metrics: null });

  test('first round, then nothing while one is unfinished, then the short last round, then complete', () => {
    expect(nextRound(row, [])).toEqual({ kind: 'create', round: 0, indices: [0, 1, 2, 3] });
    expect(nextRound(row, [t(0, 'done'), t(1, 'running'), t(2, 'done'), t(3, 'failed')])).toEqual({ kind: 'wait' });
    expect(nextRound(row, [t(0, 'done'), t(1, 'done'), t(2, 'done'), t(3, 'failed')])).toEqual({ kind: 'create', round: 1, indices: [4, 5] });
    expect(
      nextRound(
        row,
        [0, 1, 2, 3, 4, 5].map((i) => t(i, 'done')),
      ),
    ).toEqual({ kind: 'complete' });
  });

  test('a partly created round is completed with its missing trials', () => {
    expect(
      nextRound(
        row,
        [0, 1, 2, 3, 4].map((i) => t(i, 'done')),
      ),
    ).toEqual({ kind: 'create', round: 1, indices: [5] });
  });
});

/** A stand-in for the Python propose: deterministic in (history, seed, round_size), as the real one is. */
function fakePropose(ask: TrialAsk): Record<string, number> {
  const digest = createHash('sha256')
    .update(JSON.stringify([ask.history, ask.seed, ask.round_size, ask.index, ask.strategy]))
    .digest();
  return { depth: 1 + ((digest[0] as number) % 20), rate: (digest[1] as number) / 255 };
}
function fakeMetrics(params: Record<string, number>, seed: number): Record<string, number> | null {
  if (seed % 7 === 0) return null; // some trials fail
  return { auc: 0.5 + (((params.depth as number) * 7) % 10) / 25, class_error: (params.rate as number) / 2 };
}

/** Runs a whole study with `agents` workers finishing trials in an order drawn from `orderSeed`. */
function simulate(plan: StudyPlan, agents: number, orderSeed: number): Map<string, TrialAsk> {
  let rng = orderSeed;
  const random = () => {
    rng = (rng * 1103515245 + 12345) % 2 ** 31;
    return rng / 2 ** 31;
  };
  const trials = new Map<number, TrialState[]>(plan.rows.map((r) => [r.row, []]));
  const asks = new Map<string, TrialAsk>();
  const queue: Array<{ row: number; index: number; params: Record<string, number> }> = [];
  for (;;) {
    for (const row of plan.rows) {
      const states = trials.get(row.row) as TrialState[];
      const next = nextRound(row, states);
      if (next.kind !== 'create') continue;
      for (const index of next.indices) {
        const ask = askForTrial(plan, row, index, states);
        asks.set(trialId(plan.jobId, row.row, index), ask);
        const params = fakePropose(ask);
        states.push({ index, status: 'created', params: null, metrics: null });
        queue.push({ row: row.row, index, params });
      }
    }
    if (queue.length === 0) break;
    // Up to `agents` trials run at once; any of them may finish first.
    const running = queue.slice(0, agents);
    const done = running[Math.floor(random() * running.length)] as (typeof queue)[number];
    queue.splice(queue.indexOf(done), 1);
    const state = (trials.get(done.row) as TrialState[]).find((s) => s.index === done.index) as TrialState;
    const metrics = fakeMetrics(done.params, trialSeed(plan.randomState, done.row, done.index));
    Object.assign(state, metrics ? { status: 'done', params: done.params, metrics } : { status: 'failed', params: null, metrics: null });
  }
  return asks;
}

describe('reproducibility', () => {
  const plan = planStudy({
    jobId: 'j',
    families: ['random_forest', 'xgboost'],
    metrics: ['auc', 'neg_class_error'],
    gridSize: 2,
    nTrials: 10,
    randomState: 42,
    strategy: 'optuna',
  });

  test('every trial gets the same ask whatever the number of agents and the finishing order', () => {
    const reference = simulate(plan, 1, 1);
    expect(reference.size).toBe(6 * 10);
    const third = reference.get('j-0-9') as TrialAsk;
    expect(third.history).toHaveLength(8);
    expect(third.index).toBe(1);
    expect(third.round_size).toBe(4);
    expect(third.seed).toBe(plan.rows[0]?.seed);
    expect(third.history.some((h) => h.value === null)).toBe(true); // failed trials carry null
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 2 ** 30 }), (agents, orderSeed) => {
        expect(simulate(plan, agents, orderSeed)).toEqual(reference);
      }),
      { numRuns: 40 },
    );
  });

  test('a different random_state gives different asks', () => {
    const other = planStudy({ ...plan, jobId: 'j', families: ['random_forest', 'xgboost'], gridSize: 2, nTrials: 10, randomState: 43 });
    expect(simulate(other, 3, 5).get('j-0-0')?.seed).not.toBe(simulate(plan, 3, 5).get('j-0-0')?.seed);
  });

  test("a round's history extended from the round before equals the one rebuilt from all the row's trials", () => {
    const row = plan.rows[1]!;
    // Rounds of 4, the last short (10 trials); some failed (no params, value null), metrics of both weights.
    const states: TrialState[] = Array.from({ length: row.nTrials }, (_, index) =>
      index % 3 === 2
        ? { index, status: 'failed', params: null, metrics: null }
        : { index, status: 'done', params: { depth: index, rate: index / 10 }, metrics: { auc: 0.5 + index / 40, class_error: index / 50 } },
    );
    let history = historyForRound(plan, row, states, 0);
    expect(history).toEqual([]);
    for (let round = 0; round + 1 < Math.ceil(row.nTrials / ROUND_SIZE); round++) {
      // Only the round's own trials, in any order: what advance reads after one of them ends.
      const ofRound = states.filter((s) => Math.floor(s.index / ROUND_SIZE) === round).reverse();
      history = extendHistory(plan, row, history, ofRound, round);
      expect(history).toEqual(historyForRound(plan, row, states, round + 1));
    }
    expect(history).toHaveLength(8);
    expect(() => extendHistory(plan, row, [], states, 1)).toThrow(/history of 0 entries/);
    const unfinished = states.slice(4, 8).map((s, i) => (i === 1 ? { ...s, status: 'running' as const } : s));
    expect(() => extendHistory(plan, row, history.slice(0, 4), unfinished, 1)).toThrow(/not finished/);
  });

  test('asking a round before the earlier ones finished is refused', () => {
    const row = plan.rows[0];
    if (!row) throw new Error('no row');
    expect(() => askForTrial(plan, row, 4, [{ index: 0, status: 'running', params: null, metrics: null }])).toThrow(/not finished/);
  });
});

describe('pareto front', () => {
  const metrics = ['auc', 'log_loss'];
  test('a worked example', () => {
    const points: ScoredPoint[] = [
      { id: 'a', values: { auc: 0.9, log_loss: 0.5 } },
      { id: 'b', values: { auc: 0.8, log_loss: 0.3 } },
      { id: 'c', values: { auc: 0.8, log_loss: 0.6 } }, // dominated by a
      { id: 'd', values: { auc: 0.9, log_loss: 0.5 } }, // equal to a: kept
      { id: 'e', values: { auc: 0.95 } }, // incomplete: left out
    ];
    expect(paretoFront(points, metrics).map((p) => p.id)).toEqual(['a', 'b', 'd']);
  });

  test('no reported point is dominated and every omitted one is', () => {
    const point = fc.record({
      auc: fc.double({ min: 0, max: 1, noNaN: true }),
      log_loss: fc.double({ min: 0, max: 5, noNaN: true }),
      r: fc.integer({ min: 0, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(point, { maxLength: 40 }), (raw) => {
        const points = raw.map((v, i) => ({ id: String(i), values: { auc: Math.round(v.auc * 10) / 10, log_loss: v.log_loss } }));
        const front = paretoFront(points, metrics);
        for (const p of front) expect(points.some((q) => dominates(q, p, metrics))).toBe(false);
        for (const p of points.filter((q) => !front.includes(q))) expect(points.some((q) => dominates(q, p, metrics))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
