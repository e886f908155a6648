import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTestAgent, type TestAgent } from '../harness/agent-fixture';
import { startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';
import { trialSpec } from '../../compute-agent/training/trial-runner';
import type { TrialWorkItem } from '../../orchestrator/training/engine-documents';
import { breastCancerCsv } from '../harness/sklearn-tables';

import { ENGINE_SANDBOX } from '../../compute-agent/training/engine-command';

const ENGINE_DIR = path.join(__dirname, '../../compute-agent/training/python');

/** The Python `trial` run directly (outside the sandbox, outside the agents) on a trial's own spec. */
function trialDirectly(trial: TrialWorkItem, dataset: string, out: string): any {
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

describe('the training engine end to end', () => {
  let sys: TestSystem;
  let second: TestAgent;
  beforeAll(async () => {
    sys = await startTestSystem('engine', { LEASE_SECONDS: '30', REAPER_INTERVAL_MS: '500', MAX_ATTEMPTS: '3' }, { agent: false });
    sys.a = await startTestAgent(sys.o.url, sys.s.url, sys.o.prefix, { AGENT_NAME: 'agent-a' });
    second = await startTestAgent(sys.o.url, sys.s.url, sys.o.prefix, { AGENT_NAME: 'agent-b', AGENT_API_KEY: 'compute-key-2-00000000000' });
  }, 60_000);
  afterAll(async () => {
    await second?.cleanup();
    await sys?.cleanup();
  });

  const register = async (uuid: string, file: string) => {
    await sys.storageAs('provider').uploadFile('data', uuid, file, { contentType: 'text/csv' });
    const r = await sys.o.call('provider', 'POST', '/v1/datasets', { name: uuid, storage_uuid: uuid, format: 'csv' });
    expect(r.status).toBe(201);
    expect(r.body.status).toBe('profiling');
    return r.body.dataset_id as string;
  };
  const settled = (id: string) =>
    waitFor(async () => {
      const d = (await sys.o.call('provider', 'GET', `/v1/datasets/${id}`)).body;
      return d.status === 'profiling' ? undefined : d;
    }, 60_000);

  test('bad datasets end failed with the reason, once (no retries), nothing half-registered', async () => {
    const { work } = sys;
    fs.writeFileSync(path.join(work, 'empty.csv'), '');
    fs.writeFileSync(path.join(work, 'ragged.csv'), 'a,b,c\n1,2,3\n4,5\n');
    fs.writeFileSync(path.join(work, 'binary.csv'), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x14, 0x00, 0x00, 0x08]));
    const ids = {
      empty: await register('bad-empty', path.join(work, 'empty.csv')),
      ragged: await register('bad-ragged', path.join(work, 'ragged.csv')),
      binary: await register('bad-binary', path.join(work, 'binary.csv')),
    };
    // A blob that is not at the gateway: recorded, then failed clearly by the profile task.
    const missing = await sys.o.call('provider', 'POST', '/v1/datasets', { name: 'missing', storage_uuid: 'no-such-blob', format: 'csv' });
    expect(missing.status).toBe(201);
    const results = Object.fromEntries(
      await Promise.all([...Object.entries(ids), ['missing', missing.body.dataset_id as string]].map(async ([k, id]) => [k, await settled(id!)])),
    );
    expect(results.empty.status).toBe('failed');
    expect(results.empty.failure_reason).toMatch(/empty_file/);
    expect(results.ragged.failure_reason).toMatch(/ragged_rows/);
    expect(results.binary.failure_reason).toMatch(/binary_content|invalid_encoding/);
    expect(results.missing.failure_reason).toMatch(/blob_not_found/);
    for (const r of Object.values<any>(results)) expect(r.profile).toBeNull();
    // A permanent failure is not retried: one attempt each.
    const tasks = await sys.o.orchestrator.collections.profileTasks.find({}).toArray();
    for (const t of tasks.filter((x) => x.status === 'failed')) expect(t.attempt).toBe(1);
    // Another provider does not see them; the owner lists them.
    expect((await sys.o.call('provider2', 'GET', `/v1/datasets/${ids.empty}`)).status).toBe(404);
    const list = (await sys.o.call('provider', 'GET', '/v1/datasets?limit=10')).body.datasets;
    expect(list.map((d: any) => d.dataset_id)).toEqual(expect.arrayContaining(Object.values(ids)));
  }, 120_000);

  test('a dataset is profiled, a job of two families × 2 trials with 5-fold CV runs on two agents, metrics equal scikit-learn run directly, the model predicts by id', async () => {
    const { o, work } = sys;
    const csv = path.join(work, 'bc.csv');
    breastCancerCsv(csv);
    const id = await register('bc-table', csv);
    const ds = await settled(id);
    expect(ds.status).toBe('ready');
    expect(ds.profile.row_count).toBe(569);
    expect(ds.profile.columns).toHaveLength(31);
    expect(ds.profile.columns.find((c: any) => c.name === 'target').type).toBe('numeric');

    // Refused before anything is stored, naming the field.
    const bad = async (patch: Record<string, unknown>) =>
      o.call('provider', 'POST', '/v1/jobs', { dataset_id: id, label_column: 'target', task_kind: 'classification', ...patch });
    const jobsBefore = await o.orchestrator.collections.jobs.countDocuments({});
    const unknownLabel = await bad({ label_column: 'nope' });
    expect(unknownLabel.status).toBe(422);
    expect(unknownLabel.body.error.details.field).toBe('label_column');
    const badFilter = await bad({ filters: [{ col: 'mean_radius', op: '>', value: 'big' }] });
    expect(badFilter.status).toBe(422);
    expect(badFilter.body.error.details.field).toBe('filters.0.value');
    const unknownCol = await bad({ filters: [{ col: 'ghost', op: '==', value: 1 }] });
    expect(unknownCol.body.error.details.field).toBe('filters.0.col');
    const family = await bad({ families: ['decision_tree', 'tabm'] });
    expect(family.status).toBe(422);
    expect(family.body.error.details.field).toBe('families.1');
    expect(await o.orchestrator.collections.jobs.countDocuments({})).toBe(jobsBefore);

    const submitted = await o.call('provider', 'POST', '/v1/jobs', {
      dataset_id: id,
      label_column: 'target',
      task_kind: 'classification',
      families: ['decision_tree', 'linear'],
      metrics: ['accuracy', 'f1'],
      n_trials: 2,
      evaluation: { kind: 'kfold', n_splits: 5 },
      random_state: 7,
    });
    expect(submitted.status).toBe(201);
    const jobId = submitted.body.job_id;
    const view = await waitFor(async () => {
      const v = (await o.call('provider', 'GET', `/v1/jobs/${jobId}`)).body;
      return ['completed', 'failed', 'canceled'].includes(v.job?.status) ? v : undefined;
    }, 240_000);
    expect(view.job.status).toBe('completed');
    expect(view.progress.trials_done).toBe(4);
    expect(view.progress.trials_total).toBe(4);
    expect(view.progress.best_so_far.objective).toBeGreaterThan(0.85);

    const trials = await o.orchestrator.collections.trials.find({ job: jobId }).toArray();
    expect(trials).toHaveLength(4);
    // Both agents took part (each runs one task at a time).
    const settlements = await o.orchestrator.collections.settlements.find({ kind: 'trial' }).toArray();
    expect(new Set(settlements.filter((s) => s.status === 'done').map((s) => s.result?.reporter)).size).toBe(2);
    for (const t of trials) {
      // The work item the agent got (the job's profile and the round's history joined in).
      const direct = trialDirectly(await o.orchestrator.engine.trialWorkItem(t), csv, path.join(work, `direct-${t._id}`));
      const got = t.result as any;
      expect(got.params).toEqual(direct.params);
      for (const [name, m] of Object.entries<any>(direct.metrics)) {
        expect(Math.abs(got.metrics[name].mean - m.mean)).toBeLessThanOrEqual(1e-9);
        expect(Math.abs(got.metrics[name].std - m.std)).toBeLessThanOrEqual(1e-9);
      }
      direct.folds.forEach((f: any, i: number) => {
        for (const [name, v] of Object.entries<number>(f.metrics)) expect(Math.abs(got.folds[i].metrics[name] - v)).toBeLessThanOrEqual(1e-9);
      });
      process.stderr.write(`trial ${t._id} ${t.family} accuracy ${got.metrics.accuracy.mean.toFixed(4)} (direct ${direct.metrics.accuracy.mean.toFixed(4)})\n`);
    }

    const model = (await o.call('provider', 'GET', `/v1/models/${view.job.model_id}`)).body;
    expect(model.model_storage_uuid).toBe(`${jobId}-final-a1-model`);
    expect(model.report.metrics.accuracy).toBeGreaterThan(0.85);
    expect(model.schema.row_count).toBe(569);

    // Predictions by model id, on the provider's own data (raw rows of the schema, no label).
    const rows = path.join(work, 'bc-predict.csv');
    breastCancerCsv(rows, 60, false);
    await sys.storageAs('provider').uploadFile('data', 'bc-rows', rows, { contentType: 'text/csv' });
    expect((await o.call('provider', 'POST', '/data', { uuid: 'bc-rows', problems: [] })).status).toBe(201);
    expect((await o.call('provider2', 'POST', '/prediction', { data: ['bc-rows'], model: view.job.model_id })).status).toBe(422);
    const pred = await o.call('provider', 'POST', '/prediction', { data: ['bc-rows'], model: view.job.model_id });
    expect(pred.status).toBe(201);
    const done = await waitFor(async () => {
      const p = (await o.call('provider', 'GET', `/preduplet/${pred.body.preduplets[0]}`)).body;
      return p.status === 'done' || p.status === 'failed' ? p : undefined;
    }, 60_000);
    expect(done.status).toBe('done');
    const dest = path.join(work, 'predictions.csv');
    await sys.storageAs('provider').downloadToFile('prediction', done.prediction_storage_uuid, dest);
    const lines = fs.readFileSync(dest, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(61);
    const truth = execFileSync(
      '/usr/bin/python3',
      ['-c', 'from sklearn.datasets import load_breast_cancer; print(",".join(map(str, load_breast_cancer().target[:60])))'],
      { encoding: 'utf8' },
    )
      .trim()
      .split(',');
    const header = lines[0]!.split(',');
    const at = header.indexOf('prediction');
    const accuracy = lines.slice(1).filter((l, i) => l.split(',')[at] === truth[i]).length / 60;
    process.stderr.write(`engine model prediction accuracy on 60 rows: ${accuracy.toFixed(3)}\n`);
    expect(accuracy).toBeGreaterThan(0.85);
  }, 400_000);
});
