import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTestAgent, type TestAgent } from '../harness/agent-fixture';
import { registerReadyDataset, startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';
import { trialSpec } from '../../compute-agent/training/trial-runner';
import type { TrialDoc, TrialWorkItem } from '../../orchestrator/training/engine-documents';
import { breastCancerCsv } from '../harness/sklearn-tables';

import { ENGINE_SANDBOX } from '../../compute-agent/training/engine-command';

const ENGINE_DIR = path.join(__dirname, '../../compute-agent/training/python');

/** The cold Python `trial` (a fresh process, outside the agents) on a trial's own spec. */
function trialCold(trial: TrialWorkItem, dataset: string, out: string): any {
  fs.mkdirSync(out, { recursive: true });
  const spec = path.join(out, 'spec.json');
  fs.writeFileSync(spec, JSON.stringify({ ...trialSpec({ ...trial, uuid: trial._id, attempt: 1 }), dataset }));
  // In the engine's numeric environment (its sandbox clears the rest): variables such as
  // OPENBLAS_CORETYPE pick other kernels, and a fit can end elsewhere in its last bits.
  execFileSync('/usr/bin/python3', ['-B', '-m', 'uplet_training', 'trial', '--spec', spec, '--out', out], {
    cwd: ENGINE_DIR,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...ENGINE_SANDBOX.env },
  });
  return JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8'));
}

describe('warm trial workers', () => {
  let sys: TestSystem;
  let csv: string;
  let datasetId: string;
  let sparesBeforeTraining = -1;
  beforeAll(async () => {
    sys = await startTestSystem('warm', { LEASE_SECONDS: '30', REAPER_INTERVAL_MS: '500', MAX_ATTEMPTS: '3' }, { agent: false });
    // One agent, one slot, warm workers on (the default), two of them alive at most.
    sys.a = await startTestAgent(sys.o.url, sys.s.url, sys.o.prefix, { AGENT_NAME: 'agent-warm', TRAINING_WARM_WORKERS: '2' });
    // No training work yet: no spare Python sits idle on an agent that may only ever run uplets.
    await new Promise((r) => setTimeout(r, 1_000));
    sparesBeforeTraining = sys.a.agent.warmSpares().length;
    csv = path.join(sys.work, 'bc.csv');
    breastCancerCsv(csv);
    datasetId = await registerReadyDataset(sys, 'bc-warm', csv, 'bc');
  }, 120_000);
  afterAll(async () => {
    await sys?.cleanup();
  });

  const submit = async (families: string[], nTrials: number) => {
    const r = await sys.o.call('provider', 'POST', '/v1/jobs', {
      dataset_id: datasetId,
      label_column: 'target',
      task_kind: 'classification',
      families,
      metrics: ['accuracy', 'f1'],
      n_trials: nTrials,
      evaluation: { kind: 'kfold', n_splits: 3 },
      random_state: 7,
    });
    expect(r.status).toBe(201);
    return r.body.job_id as string;
  };
  const finished = (jobId: string) =>
    waitFor(async () => {
      const v = (await sys.o.call('provider', 'GET', `/v1/jobs/${jobId}`)).body;
      return ['completed', 'failed', 'canceled'].includes(v.job?.status) ? v : undefined;
    }, 300_000);
  const trialsOf = async (jobId: string) => (await sys.o.orchestrator.collections.trials.find({ job: jobId }).toArray()) as TrialDoc[];
  const runnerOf = (t: TrialDoc) => (t as any).result.runner as { warm: boolean; worker?: string; trial?: number; spare?: boolean };

  test("a job's trials run on warm workers, one per family, with the results of cold runs; a second job never shares them", async () => {
    // The spare started with the agent's first training task (the dataset's profile), ready before any job (TRAINING_WARM_SPARES defaults to 1).
    expect(sparesBeforeTraining).toBe(0);
    const [spare] = await waitFor(async () => (sys.a!.agent.warmSpares().length === 1 ? sys.a!.agent.warmSpares() : undefined), 30_000);
    const first = await submit(['decision_tree', 'random_forest'], 3);
    expect((await finished(first)).job.status).toBe('completed');
    const second = await submit(['decision_tree'], 2);
    expect((await finished(second)).job.status).toBe('completed');

    const trials = await trialsOf(first);
    expect(trials).toHaveLength(6);
    for (const t of trials) {
      expect(runnerOf(t).warm).toBe(true);
      // The work item the agent got (the job's profile and the round's history joined in).
      const cold = trialCold(await sys.o.orchestrator.engine.trialWorkItem(t), csv, path.join(sys.work, `cold-${t._id}`));
      const warm = t.result as any;
      expect(warm.params).toEqual(cold.params);
      expect(warm.metrics).toEqual(cold.metrics);
      expect(warm.folds.map((f: any) => f.metrics)).toEqual(cold.folds.map((f: any) => f.metrics));
    }
    // One worker per family served all its trials, the imports paid once each.
    const byFamily = (family: string) => trials.filter((t) => t.family === family).map(runnerOf);
    for (const family of ['decision_tree', 'random_forest']) {
      const runners = byFamily(family);
      expect(new Set(runners.map((r) => r.worker)).size).toBe(1);
      expect(runners.map((r) => r.trial).sort()).toEqual([1, 2, 3]);
    }
    expect(byFamily('decision_tree')[0]!.worker).not.toBe(byFamily('random_forest')[0]!.worker);
    // The job's first trial ran on the spare: its worker is the spare's process, bound to this job for life.
    const firstClaimed = [...trials].sort((a, b) => a.timestamp_claimed!.getTime() - b.timestamp_claimed!.getTime())[0]!;
    expect(runnerOf(firstClaimed)).toMatchObject({ warm: true, worker: spare!.id, trial: 1, spare: true });
    // The second job, same dataset and family: its own worker, never the first job's.
    const secondWorkers = new Set((await trialsOf(second)).map((t) => runnerOf(t).worker));
    expect(secondWorkers.size).toBe(1);
    for (const t of trials) expect(secondWorkers.has(runnerOf(t).worker)).toBe(false);
    // The spare kept now is a fresh process, never one that served the first job.
    expect(sys.a!.agent.warmSpares().every((s) => !trials.some((t) => runnerOf(t).worker === s.id))).toBe(true);
    // The first job's workers went with its final task; at most the pool's bound ever live.
    expect(sys.a!.agent.warmWorkers().every((w) => w.key.job !== first)).toBe(true);
    expect(sys.a!.agent.warmWorkers().length).toBeLessThanOrEqual(2);
  }, 400_000);

  test("a canceled job's warm workers go at its end event, not after the idle timeout", async () => {
    const job = await submit(['decision_tree', 'random_forest'], 30);
    const ofJob = () => sys.a!.agent.warmWorkers().filter((w) => w.key.job === job);
    // Both families' workers are live: one runs a trial, the other waits for its next one.
    await waitFor(async () => (ofJob().length === 2 ? true : undefined), 120_000);
    expect((await sys.o.call('provider', 'POST', `/v1/jobs/${job}/cancel`)).status).toBe(200);
    // TRAINING_WARM_IDLE_SECONDS is 60 here: only the job's end can retire the idle one within 15 s.
    await waitFor(async () => (ofJob().length === 0 ? true : undefined), 15_000);
    const trials = await trialsOf(job);
    expect(trials.some((t) => t.status === 'canceled')).toBe(true);
  }, 200_000);

  test('a warm worker killed mid-trial fails only that trial; it is retried on a fresh worker and the job completes', async () => {
    const job = await submit(['random_forest'], 4);
    // Kill the worker while it runs a trial (its second or later: it is warm by then).
    let victim: ReturnType<TestAgent['agent']['warmWorkers']>[number] | undefined;
    for (const deadline = Date.now() + 120_000; !victim && Date.now() < deadline; await new Promise((r) => setTimeout(r, 5)))
      victim = sys.a!.agent.warmWorkers().find((w) => w.key.job === job && w.busy && w.served >= 2);
    if (!victim) throw new Error('no busy warm worker of the job seen');
    process.kill(-victim.pid, 'SIGKILL');
    expect((await finished(job)).job.status).toBe('completed');
    const trials = await trialsOf(job);
    expect(trials).toHaveLength(4);
    expect(trials.every((t) => t.status === 'done')).toBe(true);
    const retried = trials.filter((t) => t.attempt === 2);
    expect(retried).toHaveLength(1);
    // The retry ran on another worker; every done attempt has the results of a cold run.
    expect(runnerOf(retried[0]!).worker).not.toBe(victim.id);
    const cold = trialCold(await sys.o.orchestrator.engine.trialWorkItem(retried[0]!), csv, path.join(sys.work, `cold-retried`));
    expect((retried[0]!.result as any).metrics).toEqual(cold.metrics);
    const failures = await sys.o.orchestrator.collections.settlements.find({ kind: 'trial', uplet: retried[0]!._id, status: 'failed' }).toArray();
    expect(failures).toHaveLength(1);
    expect(String(failures[0]!.result?.reason)).toMatch(/^engine trial: the warm trial worker .* was killed by SIGKILL$/);
    expect(failures[0]!.result?.permanent).toBeUndefined();
  }, 400_000);
});
