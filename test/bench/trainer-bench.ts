import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { BSON } from 'mongodb';
import { planStudy, ROUND_SIZE } from '../../orchestrator/training/study-plan';
import type { FamilyId } from '../../orchestrator/training/families';
import { percentile } from './bench-stats';
import { hearEvents, startBenchSystem, until, untilMachineQuiet, type BenchSystem } from './bench-system';
import { breastCancerCsv } from '../harness/sklearn-tables';
import { describeCpuSplit, ProcessCpuMeter, type CpuSplit } from './process-cpu';
import { ENGINE_SANDBOX } from '../../compute-agent/training/engine-command';

const run = promisify(execFile);

/** One study size: the trainer run beside the Optuna-alone baseline, and where the trainer run's time went. */
export interface TrainerStudyResult {
  trials: number;
  trialsPerRow: number;
  upletSeconds: number;
  /** The mean of the two baseline runs around uplet's (baselineRunsSeconds). */
  baselineSeconds: number;
  /**
   * The baseline run before uplet's and again after it: this machine's speed drifts by more than
   * 10 % within minutes, and the mean of a run on each side cancels a steady drift.
   */
  baselineRunsSeconds: [number, number];
  /** The second baseline run gave the same trials, best and test metrics as the first (Optuna alone is reproducible too). */
  baselineRepeatsItself: boolean;
  /** baseline / uplet wall-clock (the goal: ≥ 0.8 on these 2 cores). */
  ratio: number;
  upletSecondsPerTrial: number;
  baselineSecondsPerTrial: number;
  /** uplet wall/trial − baseline wall/trial. */
  overheadSecondsPerTrial: number;
  /** Every trial's params and fold-mean metrics, the best trial and its held-out metrics equal in both runs. */
  identical: { params: boolean; scores: boolean; best: boolean; testMetrics: boolean; firstDifference: string | null };
  best: { trial: string; objective: number; params: unknown; testMetrics: unknown };
  /** From the trial documents (ms, p50 / p95): where a trial's time went in the trainer run. */
  profile: TrialProfile;
  /** CPU-seconds by process kind over each side's timed window (test/bench/process-cpu.ts): what limits the ratio on 2 cores. */
  cpu: { uplet?: CpuSplit; baseline?: CpuSplit };
}

export interface TrialProfile {
  /** Trial created (todo) → claimed by an agent. */
  queueMs: [number, number];
  /** Claimed → done (the agent: a wait for its slot when claimed ahead of one, dataset fetch, Python start and imports, propose, folds, upload, report). */
  agentMs: [number, number];
  /** The Python's own fit + predict seconds over the folds (what the baseline also spends). */
  fitPredictMs: [number, number];
  /** A row's round ends (its last trial done) → the next round's trials created (the orchestrator's bookkeeping). */
  roundGapMs: [number, number];
  /** One round's proposals in the baseline (mean, and the last round's, the longest history), ms: the round's trial tasks ask one each. */
  proposeMs: { meanPerRound: number; lastRound: number };
  /** A cold `/usr/bin/python3` importing the trial's modules (pandas, scikit-learn, Optuna's search), ms p50 of 3: what a warm worker saves per trial. */
  pythonImportMs: number;
  /** Last trial done → job completed (the final refit task and the model). */
  finalMs: number;
  /** The mean trial's propose history length (its round's, in `trial_rounds`: what each trial replays). */
  meanHistoryEntries: number;
  /** A trial document's stored BSON size, bytes: the first round's and the last round's (flat: the history is stored once per round). */
  trialBytes: { first: number; last: number };
  /** Reading the job's trials whole once the job is done, ms. */
  jobTrialsReadMs: number;
  /**
   * GET /v1/jobs/{id} once the job is done, ms: `first`, the first view of the job in the
   * orchestrator (every trial read); `kept`, a later one (median of 3: only the rows' open rounds read).
   */
  jobGetMs: { first: number; kept: number };
  /** With UPLET_TRAINER_WATCH_MS: GET /v1/jobs/{id} every that many ms while the study runs (as the dashboard does), ms p50 / p95. */
  watch: { everyMs: number; polls: number; getMs: [number, number] } | null;
}

const FAMILIES: FamilyId[] = ['decision_tree', 'linear'];
const METRICS = ['accuracy'];
const N_SPLITS = 3;
const RANDOM_STATE = 42;

/**
 * `POST /v1/trainer/run` with two agents (one task each) on scikit-learn's breast cancer table
 * (569 rows, 30 features, a 0/1 label): families decision_tree and linear, accuracy, 3 folds,
 * random_state 42, `trials` trials in all (half per family row); against the same study run
 * by Optuna + scikit-learn in one Python process (test/bench/optuna_baseline.py: the same
 * propose rounds, seeds, folds and final refit, through the project's own Python functions).
 * The baseline runs first, then the trainer run, one after the other on the same machine.
 */
export async function benchTrainerRun(
  mongoUrlFor: (db: string) => string,
  amqpUrl: string,
  sizes: number[],
  repoRoot: string,
  log: (line: string) => void,
): Promise<TrainerStudyResult[]> {
  const sys = await startBenchSystem(mongoUrlFor, amqpUrl, { agentConcurrency: 1, agents: 2 });
  try {
    const csv = path.join(sys.dir, 'breast-cancer.csv');
    breastCancerCsv(csv);
    await sys.storageAs('org').uploadFile('data', 'trainer-bench', csv, { contentType: 'text/csv' });
    const { dataset_id: datasetId } = await sys.call('POST', '/v1/datasets', { name: 'trainer-bench', storage_uuid: 'trainer-bench', format: 'csv' });
    const dataset = await until(async () => {
      const d = await sys.call('GET', `/v1/datasets/${datasetId}`);
      if (d.status === 'failed') throw new Error(`profile failed: ${d.failure_reason}`);
      return d.status === 'ready' ? d : undefined;
    });
    const results: TrainerStudyResult[] = [];
    for (const trials of sizes) {
      const trialsPerRow = Math.ceil(trials / FAMILIES.length);
      log(`trainer run: ${trialsPerRow * FAMILIES.length} trials, baseline first`);
      // The agent that ran the profile task is importing its spare: each side starts on a quiet machine.
      await untilMachineQuiet(log);
      const baselineCpu = new ProcessCpuMeter().start();
      const baseline = await runBaseline(sys, csv, dataset.profile, trialsPerRow, repoRoot);
      const baselineSplit = baselineCpu.stop();
      log(`trainer run: baseline ${baseline.processSeconds.toFixed(1)} s (${describeCpuSplit(baselineSplit)}); now POST /v1/trainer/run`);
      await untilMachineQuiet(log);
      const upletCpu = new ProcessCpuMeter().start();
      const uplet = await runTrainer(sys, datasetId, trialsPerRow);
      const upletSplit = upletCpu.stop();
      log(`trainer run: uplet ${uplet.seconds.toFixed(1)} s (${describeCpuSplit(upletSplit)}); the baseline again`);
      await untilMachineQuiet(log);
      const again = await runBaseline(sys, csv, dataset.profile, trialsPerRow, repoRoot);
      const baselineSeconds = (baseline.processSeconds + again.processSeconds) / 2;
      log(`trainer run: baseline again ${again.processSeconds.toFixed(1)} s; mean ${baselineSeconds.toFixed(1)} s`);
      const n = trialsPerRow * FAMILIES.length;
      results.push({
        trials: n,
        trialsPerRow,
        upletSeconds: uplet.seconds,
        baselineSeconds,
        baselineRunsSeconds: [baseline.processSeconds, again.processSeconds],
        baselineRepeatsItself: sameStudy(baseline.out, again.out),
        ratio: baselineSeconds / uplet.seconds,
        upletSecondsPerTrial: uplet.seconds / n,
        baselineSecondsPerTrial: baselineSeconds / n,
        overheadSecondsPerTrial: (uplet.seconds - baselineSeconds) / n,
        identical: compare(uplet.view, baseline.out),
        best: {
          trial: uplet.view.final_model?.best_trial,
          objective: baseline.out.best?.objective ?? NaN,
          params: uplet.view.final_model?.params,
          testMetrics: uplet.view.final_model?.report?.metrics,
        },
        profile: {
          ...(await profileTrials(sys, uplet.jobId, uplet.firstViewMs)),
          watch: uplet.watch,
          proposeMs: {
            meanPerRound: Math.round(baseline.out.propose_seconds_per_round * 1000),
            lastRound: Math.round(baseline.out.propose_seconds_last_round * 1000),
          },
          pythonImportMs: await pythonImportMs(repoRoot),
        },
        cpu: { uplet: upletSplit, baseline: baselineSplit },
      });
    }
    return results;
  } finally {
    await sys.close();
  }
}

interface BaselineOut {
  trials: Array<{ row: number; index: number; params: unknown; metrics: Record<string, number> | null; objective: number | null }>;
  best: { row: number; index: number; params: unknown; objective: number } | null;
  test_metrics: Record<string, number> | null;
  wall_seconds: number;
  propose_seconds_per_round: number;
  propose_seconds_last_round: number;
}

async function runBaseline(sys: BenchSystem, csv: string, profile: unknown, trialsPerRow: number, repoRoot: string) {
  const plan = planStudy({
    jobId: 'baseline',
    families: FAMILIES,
    metrics: METRICS,
    gridSize: null,
    nTrials: trialsPerRow,
    randomState: RANDOM_STATE,
    strategy: 'optuna',
  });
  const spec = {
    dataset: csv,
    profile,
    label_column: 'target',
    task_kind: 'classification',
    filters: [],
    ignore_fields: [],
    random_state: RANDOM_STATE,
    metrics: METRICS,
    class_weight: null,
    evaluation: { kind: 'kfold', n_splits: N_SPLITS },
    strategy: plan.strategy,
    round_size: plan.roundSize,
    rows: plan.rows,
  };
  const specFile = path.join(sys.dir, 'baseline-spec.json');
  const outFile = path.join(sys.dir, 'baseline-out.json');
  fs.writeFileSync(specFile, JSON.stringify(spec));
  const started = performance.now();
  // The whole process is timed, Python start and imports included: what running the script costs.
  await run('/usr/bin/python3', ['-B', path.join(repoRoot, 'test/bench/optuna_baseline.py'), specFile, outFile], {
    // The engine's numeric environment: its sandbox clears the environment but for the thread
    // counts (ENGINE_SANDBOX). This machine's environment sets OPENBLAS_CORETYPE=Haswell, and
    // OpenBLAS's kernels for another core type end a fit elsewhere in its last bits: the same
    // params scored differently (1,000 trials: trial 1-469, C = 572, accuracy 0.9494 here against
    // 0.9516 in the sandbox, and in any process started with a cleared environment).
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...ENGINE_SANDBOX.env, PYTHONPATH: path.join(repoRoot, 'compute-agent/training/python') },
    maxBuffer: 16 * 1024 * 1024,
  });
  const processSeconds = (performance.now() - started) / 1000;
  return { processSeconds, out: JSON.parse(fs.readFileSync(outFile, 'utf8')) as BaselineOut };
}

async function runTrainer(sys: BenchSystem, datasetId: string, trialsPerRow: number) {
  const ends = await hearJobEnds(sys);
  const started = performance.now();
  const { job_id: jobId } = (await sys.call('POST', '/v1/trainer/run', {
    dataset_id: datasetId,
    task: { label_column: 'target', task_kind: 'classification' },
    model_types: FAMILIES,
    metrics: METRICS,
    n_trials: trialsPerRow,
    n_splits: N_SPLITS,
    random_state: RANDOM_STATE,
  })) as { job_id: string };
  const watcher = watchJob(sys, jobId);
  // The job's end is heard on the events exchange; its document is read once a second only in case an event was missed.
  const status = await until(
    async () => {
      const job = await sys.orchestrator.collections.jobs.findOne({ _id: jobId }, { projection: { status: 1, failure_reason: 1 } });
      return job && ['completed', 'failed', 'canceled'].includes(job.status) ? job : undefined;
    },
    { timeoutMs: 3_600_000, everyMs: 1_000, wake: ends.heard(jobId) },
  );
  await ends.close();
  const seconds = ((ends.at(jobId) ?? performance.now()) - started) / 1000;
  const watch = await watcher.stop();
  if (status.status !== 'completed') throw new Error(`trainer run ${jobId} ${status.status}: ${status.failure_reason}`);
  const viewed = performance.now();
  const view = await sys.call('GET', `/v1/trainer/jobs/${jobId}`);
  return { jobId, seconds, view, firstViewMs: performance.now() - viewed, watch };
}

/** With UPLET_TRAINER_WATCH_MS set: a user watching the job, GET /v1/jobs/{id} every that many ms until stopped. */
function watchJob(sys: BenchSystem, jobId: string) {
  const everyMs = Number(process.env.UPLET_TRAINER_WATCH_MS ?? 0);
  const times: number[] = [];
  let stopped = false;
  const polling = (async () => {
    while (everyMs > 0 && !stopped) {
      await new Promise((r) => setTimeout(r, everyMs));
      if (stopped) break;
      const t0 = performance.now();
      await sys.call('GET', `/v1/jobs/${jobId}`);
      times.push(performance.now() - t0);
    }
  })();
  return {
    stop: async (): Promise<TrialProfile['watch']> => {
      stopped = true;
      await polling;
      if (everyMs <= 0) return null;
      const sorted = [...times].sort((a, b) => a - b);
      return { everyMs, polls: times.length, getMs: [Math.round(percentile(sorted, 50)), Math.round(percentile(sorted, 95))] };
    },
  };
}

/** Trial by trial: params and fold-mean metrics; then the best trial and its held-out metrics. */
function compare(view: any, baseline: BaselineOut): TrainerStudyResult['identical'] {
  const upletTrials = new Map<string, any>(view.trials.map((t: any) => [`${t.row}-${t.index}`, t]));
  let firstDifference: string | null = null;
  let params = upletTrials.size === baseline.trials.length;
  let scores = params;
  if (!params) firstDifference = `${upletTrials.size} trials against ${baseline.trials.length}`;
  for (const b of baseline.trials) {
    const u = upletTrials.get(`${b.row}-${b.index}`);
    const sameParams = isDeepStrictEqual(u?.params, b.params);
    const sameScores = isDeepStrictEqual(u?.metrics, b.metrics);
    if ((!sameParams || !sameScores) && !firstDifference)
      firstDifference = `trial ${b.row}-${b.index}: uplet ${JSON.stringify({ params: u?.params, metrics: u?.metrics })}, baseline ${JSON.stringify({ params: b.params, metrics: b.metrics })}`;
    params &&= sameParams;
    scores &&= sameScores;
  }
  const bestTrial = baseline.best ? `${view.job_id}-${baseline.best.row}-${baseline.best.index}` : null;
  const best = view.final_model?.best_trial === bestTrial && isDeepStrictEqual(view.final_model?.params, baseline.best?.params);
  const testMetrics = isDeepStrictEqual(view.final_model?.report?.metrics, baseline.test_metrics);
  if (!best && !firstDifference) firstDifference = `best trial ${view.final_model?.best_trial} against ${bestTrial}`;
  if (!testMetrics && !firstDifference)
    firstDifference = `test metrics ${JSON.stringify(view.final_model?.report?.metrics)} against ${JSON.stringify(baseline.test_metrics)}`;
  return { params, scores, best, testMetrics, firstDifference };
}

/** Two baseline runs found the same study: every trial's params and metrics, the best trial and its test metrics. */
function sameStudy(a: BaselineOut, b: BaselineOut): boolean {
  return isDeepStrictEqual(a.trials, b.trials) && isDeepStrictEqual(a.best, b.best) && isDeepStrictEqual(a.test_metrics, b.test_metrics);
}

/** A fresh interpreter importing what a trial task imports (no sandbox, no spec): p50 of 3, ms. */
async function pythonImportMs(repoRoot: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    await run('/usr/bin/python3', ['-B', '-c', 'import uplet_training.trial, uplet_training.search'], {
      env: { ...process.env, PYTHONPATH: path.join(repoRoot, 'compute-agent/training/python') },
    });
    times.push(performance.now() - started);
  }
  return Math.round(
    percentile(
      [...times].sort((a, b) => a - b),
      50,
    ),
  );
}

async function profileTrials(sys: BenchSystem, jobId: string, firstViewMs: number): Promise<Omit<TrialProfile, 'proposeMs' | 'pythonImportMs' | 'watch'>> {
  const trials = await sys.orchestrator.collections.trials
    .find(
      { job: jobId },
      {
        projection: {
          row: 1,
          index: 1,
          timestamp_todo: 1,
          timestamp_claimed: 1,
          timestamp_done: 1,
          'result.fit_seconds': 1,
          'result.predict_seconds': 1,
          ask_round: 1,
        },
      },
    )
    .toArray();
  const job = (await sys.orchestrator.collections.jobs.findOne({ _id: jobId }))!;
  const p50p95 = (values: number[]): [number, number] => {
    const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
    return [Math.round(percentile(sorted, 50)), Math.round(percentile(sorted, 95))];
  };
  const ms = (from?: Date | null, to?: Date | null) => (from && to ? to.getTime() - from.getTime() : NaN);
  const gaps: number[] = [];
  for (const row of new Set(trials.map((t) => t.row))) {
    const ofRow = trials.filter((t) => t.row === row);
    const byRound = new Map<number, typeof ofRow>();
    for (const t of ofRow) byRound.set(Math.floor(t.index / ROUND_SIZE), [...(byRound.get(Math.floor(t.index / ROUND_SIZE)) ?? []), t]);
    for (const [round, members] of byRound) {
      const next = byRound.get(round + 1);
      if (!next) continue;
      const ended = Math.max(...members.map((t) => t.timestamp_done?.getTime() ?? NaN));
      gaps.push(Math.min(...next.map((t) => t.timestamp_todo?.getTime() ?? NaN)) - ended);
    }
  }
  const lastDone = Math.max(...trials.map((t) => t.timestamp_done?.getTime() ?? 0));
  const rounds = await sys.orchestrator.collections.trialRounds.find({ job: jobId }).toArray();
  const historyOf = new Map(rounds.map((r) => [r._id, r.history.length]));
  const history = trials.map((t) => (t.ask_round ? (historyOf.get(t.ask_round) ?? 0) : 0));
  const readStarted = performance.now();
  const whole = await sys.orchestrator.collections.trials.find({ job: jobId }).toArray();
  const jobTrialsReadMs = Math.round(performance.now() - readStarted);
  // What a user polling the job pays: GET /v1/jobs/{id} (every trial's row in the answer), median of 3
  // (the trainer view read after the run was the job's first view in the orchestrator, unless watched: firstViewMs).
  const gets: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await sys.call('GET', `/v1/jobs/${jobId}`);
    gets.push(performance.now() - t0);
  }
  const jobGetMs = { first: Math.round(firstViewMs), kept: Math.round(gets.sort((a, b) => a - b)[1]!) };
  const byIndex = whole.filter((t) => t.row === 0).sort((a, b) => a.index - b.index);
  return {
    queueMs: p50p95(trials.map((t) => ms(t.timestamp_todo, t.timestamp_claimed))),
    agentMs: p50p95(trials.map((t) => ms(t.timestamp_claimed, t.timestamp_done))),
    fitPredictMs: p50p95(
      trials.map((t) => {
        const r = t.result as { fit_seconds?: number; predict_seconds?: number } | null;
        return r ? ((r.fit_seconds ?? 0) + (r.predict_seconds ?? 0)) * 1000 : NaN;
      }),
    ),
    roundGapMs: p50p95(gaps),
    finalMs: job.timestamp_done ? job.timestamp_done.getTime() - lastDone : NaN,
    meanHistoryEntries: Math.round(history.reduce((a, b) => a + b, 0) / Math.max(1, history.length)),
    trialBytes: { first: BSON.calculateObjectSize(byIndex[0] ?? {}), last: BSON.calculateObjectSize(byIndex[byIndex.length - 1] ?? {}) },
    jobTrialsReadMs,
    jobGetMs,
  };
}

/** Checks every `everyMs`, and at once when `wake` settles. */

/** When each job's end (`job.completed|failed|canceled`) was heard, and a promise per job that settles then. */
async function hearJobEnds(sys: BenchSystem) {
  const at = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const listener = await hearEvents(sys.amqpUrl, sys.prefix, 'job.*', (e) => {
    if (!['completed', 'failed', 'canceled'].includes(e.status) || at.has(e.id)) return;
    at.set(e.id, performance.now());
    waiters.get(e.id)?.();
  });
  return {
    at: (jobId: string) => at.get(jobId),
    heard: (jobId: string) => (at.has(jobId) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(jobId, resolve))),
    close: () => listener.close(),
  };
}
