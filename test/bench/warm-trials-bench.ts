import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { hearEvents, startBenchSystem, until } from './bench-system';

export interface TrialOverhead {
  trials: number;
  /** Submit → every trial done (the job's status polled every 50 ms), seconds. */
  wallSeconds: number;
  /** Σ of the trials' own fit + predict time (result.json), seconds. */
  fitSeconds: number;
  /** (wall − Σ fit) / Σ fit. */
  overhead: number;
  /**
   * The same from the first trial's end to the last one's (trials in the order they finished):
   * the steady state, without the job's start, the first trial's imports and data load.
   */
  steadyOverhead: number;
  /** Steady-state overhead per trial, seconds: (last done − first done − Σ fit of the others) / (trials − 1). */
  steadyPerTrialSeconds: number;
  /** The first trial's claim → done, seconds (a fresh Python's imports and the data load, or a spare's data load). */
  firstTrialSeconds: number;
  /** How many trials ran on a warm worker that had already served one (the rest paid the imports). */
  warmHits: number;
  /** The time some trial was held (the union of the claim → done spans) minus Σ fit: what the agent spends around the fits (fetch, sandbox, Python, imports, data load, uploads, report). */
  inAgentSeconds: number;
  /** wall − that union: when no trial was held (dispatch, the study's rounds, the job's start). */
  betweenSeconds: number;
}

export interface WarmTrialsResult {
  rows: number;
  features: number;
  cold: TrialOverhead;
  warm: TrialOverhead;
}

/**
 * Trials of about a second of fit + predict each (decision trees on a generated 40,000-row,
 * 30-feature table, one holdout split; the fit time varies with the proposed depth, the mean is
 * printed), one agent running one task at a time: once with warm workers off
 * (TRAINING_WARM_WORKERS=0: a fresh sandboxed Python per trial), once on, each on a system of
 * its own in the same run. The overhead is everything but the fits: dispatch, claim, dataset
 * fetch, sandbox and Python start, imports, data load, uploads, reports, the study's rounds.
 * `coldTrials` may be fewer than `trials`: a cold trial's overhead hardly varies and costs seconds.
 */
export async function benchWarmTrials(
  mongoUrlFor: (db: string) => string,
  amqpUrl: string,
  trials: number,
  log: (l: string) => void,
  coldTrials = trials,
): Promise<WarmTrialsResult> {
  const rows = 40_000;
  const features = 30;
  const measure = async (warm: boolean, trials: number): Promise<TrialOverhead> => {
    const sys = await startBenchSystem(mongoUrlFor, amqpUrl, { agentConcurrency: 1, agent: { TRAINING_WARM_WORKERS: warm ? '1' : '0' } });
    try {
      const csv = path.join(sys.dir, 'trials.csv');
      execFileSync('/usr/bin/python3', [
        '-c',
        `
import csv, sys
import numpy as np
rng = np.random.default_rng(11)
X = rng.normal(size=(${rows}, ${features}))
y = np.where(X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(size=${rows}) > 0, 'yes', 'no')
with open(sys.argv[1], 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow([f'f{i}' for i in range(${features})] + ['label'])
    for row, label in zip(X, y): w.writerow([repr(round(float(v), 5)) for v in row] + [label])
`,
        csv,
      ]);
      await sys.storageAs('org').uploadFile('data', 'warm-trials', csv, { contentType: 'text/csv' });
      const { dataset_id: datasetId } = await sys.call('POST', '/v1/datasets', { name: 'warm-trials', storage_uuid: 'warm-trials', format: 'csv' });
      await until(async () => {
        const d = await sys.call('GET', `/v1/datasets/${datasetId}`);
        if (d.status === 'failed') throw new Error(`profile failed: ${d.failure_reason}`);
        return d.status === 'ready';
      });
      // Trials done are heard on the events exchange (trial.done), the job's document read once a second in case one is missed.
      let trialsHeard = 0;
      let lastHeardAt: number | undefined;
      let allHeard: () => void = () => undefined;
      const heard = new Promise<void>((resolve) => (allHeard = resolve));
      const listener = await hearEvents(amqpUrl, sys.prefix, 'trial.done', () => {
        if (++trialsHeard < trials) return;
        lastHeardAt ??= performance.now();
        allHeard();
      });
      const started = performance.now();
      const { job_id: jobId } = await sys.call('POST', '/v1/jobs', {
        dataset_id: datasetId,
        label_column: 'label',
        task_kind: 'classification',
        families: ['decision_tree'],
        metrics: ['accuracy'],
        n_trials: trials,
        evaluation: { kind: 'holdout', train_fraction: 0.8 },
      });
      await until(
        async () => {
          if (trialsHeard >= trials) return true;
          const done = await sys.orchestrator.collections.trials.countDocuments({ job: jobId, status: 'done' });
          if (done >= trials) return true;
          const job = await sys.orchestrator.collections.jobs.findOne({ _id: jobId }, { projection: { status: 1 } });
          // A job also ends with trials failed for good (it keeps the ones that ran): that is a failed measurement, not a wait.
          if (job && ['completed', 'failed', 'canceled'].includes(job.status)) {
            const failed = await sys.orchestrator.collections.trials.find({ job: jobId, status: 'failed' }, { projection: { failure_reason: 1 } }).toArray();
            throw new Error(`job ${job.status} with ${done} of ${trials} trials done; failed: ${JSON.stringify(failed.map((t) => t.failure_reason))}`);
          }
          return false;
        },
        { everyMs: 1_000, timeoutMs: 1_800_000, wake: heard },
      );
      const wallSeconds = ((lastHeardAt ?? performance.now()) - started) / 1000;
      await listener.close();
      const docs = await sys.orchestrator.collections.trials.find({ job: jobId }).toArray();
      const results = docs.map((t) => t.result as { fit_seconds: number; predict_seconds: number; runner?: { warm: boolean; trial?: number } });
      const fitSeconds = results.reduce((s, r) => s + r.fit_seconds + r.predict_seconds, 0);
      const warmHits = results.filter((r) => r.runner?.warm && (r.runner.trial ?? 0) > 1).length;
      // The time some trial was held (claimed, not yet done): claims run ahead of a free slot, so the spans overlap; their union counts once.
      const held = unionSeconds(docs.map((t) => [t.timestamp_claimed!.getTime(), t.timestamp_done!.getTime()]));
      const byDone = [...docs].sort((a, b) => a.timestamp_done!.getTime() - b.timestamp_done!.getTime());
      const fitOf = (t: (typeof docs)[number]) => {
        const r = t.result as { fit_seconds: number; predict_seconds: number };
        return r.fit_seconds + r.predict_seconds;
      };
      const steadyWall = (byDone.at(-1)!.timestamp_done!.getTime() - byDone[0]!.timestamp_done!.getTime()) / 1000;
      const steadyFit = byDone.slice(1).reduce((s, t) => s + fitOf(t), 0);
      const first = [...docs].sort((a, b) => a.timestamp_claimed!.getTime() - b.timestamp_claimed!.getTime())[0]!;
      // Let the final task finish before the system goes.
      await until(async () => ['completed', 'failed'].includes((await sys.call('GET', `/v1/jobs/${jobId}`)).job?.status));
      const r = {
        trials,
        wallSeconds,
        fitSeconds,
        overhead: (wallSeconds - fitSeconds) / fitSeconds,
        steadyOverhead: (steadyWall - steadyFit) / steadyFit,
        steadyPerTrialSeconds: (steadyWall - steadyFit) / (trials - 1),
        firstTrialSeconds: (first.timestamp_done!.getTime() - first.timestamp_claimed!.getTime()) / 1000,
        warmHits,
        inAgentSeconds: held - fitSeconds,
        betweenSeconds: wallSeconds - held,
      };
      log(`warm-trials ${warm ? 'warm' : 'cold'}: ${JSON.stringify(r)}`);
      return r;
    } finally {
      await sys.close();
    }
  };
  const cold = await measure(false, coldTrials);
  const warm = await measure(true, trials);
  return { rows, features, cold, warm };
}

/** Checks every `pollMs`, and at once when `wake` settles. */

/** The length of the union of [start, end] spans given in ms, in seconds. */
function unionSeconds(spans: Array<[number, number]>): number {
  let total = 0;
  let reach = -Infinity;
  for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
    if (end <= reach) continue;
    total += end - Math.max(start, reach);
    reach = end;
  }
  return total / 1000;
}
