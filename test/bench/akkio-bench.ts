import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { percentile } from './bench-stats';
import { startBenchSystem, until } from './bench-system';

export interface AkkioTierResult {
  tierSeconds: number;
  runs: number;
  /** Submit → SUCCEEDED (status polled every 100 ms), seconds, in run order. */
  seconds: number[];
  p50Seconds: number;
  p95Seconds: number;
  /** p50 / tier. */
  p50Ratio: number;
  /** p95 / tier: the goal is ≤ 1.1. */
  p95Ratio: number;
  /** Predict fields per request (one job each). */
  fields: number;
  /** Per run, where the time went: ms after submit of each step (last over the task's jobs; `claimed`/`done` of trials and finals). */
  phases: Array<Record<string, number>>;
}

/**
 * `POST /api/v1/models/train/new` with the given tier (10 or 60 s) on a generated 600-row, 8-field table,
 * `runs` times one after the other (force: a new model each time), one agent running two tasks at
 * once: the wall-clock from submit to SUCCEEDED against the tier (AutoGluon and H2O users report
 * 1.5× to 18× their limit; the goal here is p95 ≤ 1.1×).
 */
export async function benchAkkioTier(
  mongoUrlFor: (db: string) => string,
  amqpUrl: string,
  tierSeconds: number,
  runs: number,
  fields = 1,
): Promise<AkkioTierResult> {
  const sys = await startBenchSystem(mongoUrlFor, amqpUrl, { agentConcurrency: 2 });
  try {
    const csv = path.join(sys.dir, 'akkio.csv');
    execFileSync('/usr/bin/python3', [
      '-c',
      `
import csv, sys
import numpy as np
rng = np.random.default_rng(5)
X = rng.normal(size=(600, 8))
y = np.where(X[:, 2] - X[:, 5] > 0, 'yes', 'no')
score = X[:, 1] * 2 + X[:, 3]
with open(sys.argv[1], 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow([f'f{i}' for i in range(8)] + ['label', 'score'])
    for row, label, sc in zip(X, y, score): w.writerow([repr(round(float(v), 5)) for v in row] + [label, repr(round(float(sc), 5))])
`,
      csv,
    ]);
    await sys.storageAs('org').uploadFile('data', 'akkio-bench', csv, { contentType: 'text/csv' });
    const { dataset_id: datasetId } = await sys.call('POST', '/v1/datasets', { name: 'akkio-bench', storage_uuid: 'akkio-bench', format: 'csv' });
    await until(async () => {
      const d = await sys.call('GET', `/v1/datasets/${datasetId}`);
      if (d.status === 'failed') throw new Error(`profile failed: ${d.failure_reason}`);
      return d.status === 'ready';
    });
    const seconds: number[] = [];
    const phases: Array<Record<string, number>> = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const startedAt = Date.now();
      const { task_id: taskId } = await sys.call('POST', '/api/v1/models/train/new', {
        dataset_id: datasetId,
        predict_fields: ['label', 'score'].slice(0, fields),
        // One field: the numeric one is left out, so the single-field table is the 8 inputs it always was.
        ignore_fields: fields === 1 ? ['score'] : [],
        duration: tierSeconds,
        force: true,
      });
      await until(
        async () => {
          const s = await sys.call('GET', `/api/v1/models/train/${taskId}/status`);
          if (s.status === 'FAILED') throw new Error(`task failed: ${s.metadata.error}`);
          return s.status === 'SUCCEEDED';
        },
        // A run far over its tier is a figure to report (a loaded machine), not a timeout: 2 min + 10 × the tier.
        { timeoutMs: (120 + 10 * tierSeconds) * 1000 },
      );
      seconds.push((performance.now() - started) / 1000);
      phases.push({ ...(await phasesOf(sys, taskId, startedAt)), succeeded_seen: Math.round(performance.now() - started) });
    }
    const sorted = [...seconds].sort((a, b) => a - b);
    const p50Seconds = percentile(sorted, 50);
    const p95Seconds = percentile(sorted, 95);
    return { tierSeconds, runs, seconds, p50Seconds, p95Seconds, p50Ratio: p50Seconds / tierSeconds, p95Ratio: p95Seconds / tierSeconds, fields, phases };
  } finally {
    await sys.close();
  }
}

/** The latest time (ms after submit) of each step over the task's jobs, from the database's own timestamps. */
async function phasesOf(sys: Awaited<ReturnType<typeof startBenchSystem>>, taskId: string, startedAt: number): Promise<Record<string, number>> {
  const c = sys.orchestrator.collections;
  const task = (await c.akkioTasks.findOne({ _id: taskId }))!;
  const jobIds = task.members.map((m) => m.job_id);
  const jobs = await c.jobs.find({ _id: { $in: jobIds } }).toArray();
  const trials = await c.trials.find({ job: { $in: jobIds } }).toArray();
  const finals = await c.finalTasks.find({ job: { $in: jobIds } }).toArray();
  const last = (dates: Array<Date | null | undefined>) => Math.max(...dates.map((d) => (d ? d.getTime() - startedAt : NaN)));
  return {
    jobs_created: last(jobs.map((j) => j.timestamp_creation)),
    trials_created: last(trials.map((t) => t.timestamp_creation)),
    trials_claimed: last(trials.map((t) => t.timestamp_claimed)),
    trials_done: last(trials.map((t) => t.timestamp_done)),
    finals_created: last(finals.map((f) => f.timestamp_creation)),
    finals_claimed: last(finals.map((f) => f.timestamp_claimed)),
    finals_done: last(finals.map((f) => f.timestamp_done)),
    jobs_done: last(jobs.map((j) => j.timestamp_done)),
  };
}
