import fs from 'node:fs';
import path from 'node:path';
import { FaultCluster } from '../harness/fault-cluster';
import { breastCancerCsv } from '../harness/sklearn-tables';
import { waitFor } from '../harness/system-fixture';

/**
 * A trainer run (seed 004) under faults, every service its own process: kill -9 of the agent
 * running a trial mid-study, and every broker connection closed mid-study. Every trial ends with
 * exactly one result (one done attempt whose outputs name that attempt), none lost, none counted
 * twice, and the job completes.
 */
describe('fault suite: trainer run', () => {
  const cluster = new FaultCluster('trainer-faults');
  const figures: string[] = [];

  beforeAll(async () => cluster.start(['agent-a', 'agent-b']), 120_000);
  afterAll(async () => {
    process.stderr.write(`${figures.join('\n')}\n`);
    fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'results', 'trainer-latest.txt'), `${new Date().toISOString()}\n${figures.join('\n')}\n`);
    await cluster.stop();
  }, 60_000);

  let datasetId: string;
  const poll = async <T>(probe: () => Promise<T | undefined>, ms: number): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await probe().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  /** scikit-learn's breast cancer table, registered once as a dataset at the default site. */
  const dataset = async (): Promise<string> => {
    if (datasetId) return datasetId;
    const csv = path.join(cluster.work, 'bc.csv');
    breastCancerCsv(csv);
    await cluster.storageAs('provider').uploadFile('data', 'bc-faults', csv, { contentType: 'text/csv' });
    const ds = (await cluster.call('provider', 'POST', '/v1/datasets', { name: 'bc', storage_uuid: 'bc-faults', format: 'csv' })).body.dataset_id;
    await poll(async () => ((await cluster.call('provider', 'GET', `/v1/datasets/${ds}`)).body.status === 'ready' ? true : undefined), 60_000);
    datasetId = ds;
    return ds;
  };

  /** Eight trials (two families × four) on 3 folds: queued at once for the two agents. */
  const startStudy = async (randomState: number): Promise<string> => {
    const run = await cluster.call('provider', 'POST', '/v1/trainer/run', {
      dataset_id: await dataset(),
      task: { label_column: 'target', task_kind: 'classification' },
      model_types: ['random_forest', 'linear'],
      n_trials: 4,
      n_splits: 3,
      random_state: randomState,
    });
    expect(run.status).toBe(201);
    return run.body.job_id as string;
  };

  /** The job's trials are queued (the study started). */
  const aTrialRunning = (jobId: string) =>
    poll(async () => {
      const t = (await cluster.call('provider', 'GET', `/v1/jobs/${jobId}`)).body.trials.find((x: any) => x.status === 'pending');
      return t ? (t.trial as string) : undefined;
    }, 60_000);

  /** The job completed with each of its 8 trials done once; returns the trials re-run after the fault. */
  const completedExactlyOnce = async (jobId: string): Promise<{ view: any; retried: number }> => {
    const view = await poll(async () => {
      const v = (await cluster.call('provider', 'GET', `/v1/trainer/jobs/${jobId}`)).body;
      return v.status === 'completed' || v.status === 'failed' ? v : undefined;
    }, 300_000);
    expect(view.status).toBe('completed');
    expect(view.trials).toHaveLength(8);
    expect(new Set(view.trials.map((t: any) => t.trial)).size).toBe(8);
    expect(view.trials.every((t: any) => t.status === 'done')).toBe(true);
    expect(view.progress).toMatchObject({ trials_done: 8, trials_failed: 0, trials_total: 8 });
    // Exactly one accepted result per trial: one done report settled for each.
    const reports = await cluster.doneReports(view.trials.map((t: any) => t.trial));
    expect([...reports.values()]).toEqual(new Array(8).fill(1));
    const engineView = (await cluster.call('provider', 'GET', `/v1/jobs/${jobId}`)).body;
    return { view, retried: engineView.trials.filter((t: any) => t.attempt > 1).length };
  };

  test('kill -9 of an agent mid-study: every trial has exactly one result, the job completes', async () => {
    const started = Date.now();
    const jobId = await startStudy(3);
    const victim = await aTrialRunning(jobId);
    await new Promise((r) => setTimeout(r, 500));
    // Eight trials are queued at once for two agents (one task each): both are inside a trial now.
    const killed = 'agent-a';
    await cluster.kill(cluster.agents.get(killed));
    cluster.agents.delete(killed);
    const { view, retried } = await completedExactlyOnce(jobId);
    expect(retried).toBeGreaterThanOrEqual(1);
    const seconds = (Date.now() - started) / 1000;
    figures.push(
      `trainer run, agent kill -9 mid-study: 8/8 trials done exactly once (${retried} re-run after the kill, victim seen running ${victim}), job completed in ${seconds.toFixed(1)} s, final held-out accuracy ${view.final_model.report.metrics.accuracy.toFixed(3)}`,
    );
    await cluster.startAgent(killed);
  }, 400_000);

  test('every broker connection closed mid-study (twice): services reconnect, every trial has exactly one result, the job completes', async () => {
    const started = Date.now();
    const jobId = await startStudy(4);
    await aTrialRunning(jobId);
    // The agent the previous test restarted may still be connecting: every service is connected first.
    await waitFor(async () => (cluster.brokerConnections().length >= 3 ? true : undefined), 30_000);
    const closed = cluster.closeBrokerConnections();
    expect(closed).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 1_500));
    const again = cluster.closeBrokerConnections();
    const { view, retried } = await completedExactlyOnce(jobId);
    const seconds = (Date.now() - started) / 1000;
    figures.push(
      `trainer run, ${closed + again} broker connections closed mid-study: 8/8 trials done exactly once (${retried} re-run), job completed in ${seconds.toFixed(1)} s, final held-out accuracy ${view.final_model.report.metrics.accuracy.toFixed(3)}`,
    );
  }, 400_000);
});
