import { startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';

/**
 * Issue 20: `POST /api/ml-models/train` with empty storage_ids trains on synthetic data made on
 * a compute node from the ontology (a `synthesize` task, its CSV written under its lease as a
 * `data` blob, registered as the owner's synthetic dataset, profiled, then the engine job).
 */
describe('registry training on synthetic data', () => {
  let sys: TestSystem;
  let project = 0;
  const newProject = () => `synth-${process.pid}-${++project}`;
  beforeAll(async () => {
    sys = await startTestSystem('synthetic', { LEASE_SECONDS: '30', REAPER_INTERVAL_MS: '500' });
  }, 90_000);
  afterAll(async () => {
    await sys?.cleanup();
  });
  const call = (...a: Parameters<TestSystem['o']['call']>) => sys.o.call(...a);

  const trainSynthetic = async (fields: unknown[], type: string) => {
    const p = newProject();
    const o = await call('provider', 'POST', '/api/ontologies', { project_id: p, name: 'synthetic', fields });
    expect(o.status).toBe(201);
    const m = await call('provider', 'POST', '/api/ml-models', {
      project_id: p,
      ontology_id: o.body.ontology_id,
      name: 'm',
      type,
      training_config: { train_test_split: 0.8, random_seed: 7 },
    });
    expect(m.status).toBe(201);
    const started = await call('provider', 'POST', '/api/ml-models/train', { model_id: m.body.id, storage_ids: [] });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({
      status: 'training',
      trained_on: 'synthetic',
      trained_on_synthetic_data: true,
      synthetic_task: `${m.body.id}-synth-1`,
    });
    const done = await waitFor(async () => {
      const x = (await call('provider', 'GET', `/api/ml-models/${m.body.id}`)).body;
      return x.status === 'training' ? undefined : x;
    }, 240_000);
    return { model: m.body, done };
  };

  test('a categorical target: 202 training → trained with metrics, trained_on synthetic, its synthetic dataset recorded', async () => {
    const { model, done } = await trainSynthetic(
      [
        { name: 'age', type: 'numeric', role: 'feature' },
        { name: 'income', type: 'numeric', role: 'feature' },
        { name: 'member', type: 'boolean', role: 'feature' },
        { name: 'region', type: 'category', role: 'feature', choices: ['north', 'south', 'east'] },
        { name: 'customer_id', type: 'category', role: 'id' },
        { name: 'churn', type: 'category', role: 'target', choices: ['yes', 'no'] },
      ],
      'random_forest',
    );
    expect(done.status_reason).toBeNull();
    expect(done.status).toBe('trained');
    expect(done.trained_on).toBe('synthetic');
    expect(done.trained_on_synthetic_data).toBe(true);
    const task = `${model.id}-synth-1`;
    expect(done.synthetic_dataset_id).toBe(`${task}-ds`);
    expect(done.storage_ids).toEqual([`${task}-ds`]);
    expect(typeof done.performance_metrics.accuracy).toBe('number');
    expect(done.model_artifact_path).toMatch(/^storage:\/\/default\/model\/.+-final-a1-model$/);
    // The dataset is the owner's, marked synthetic, its CSV the data blob written under the task's first lease.
    const ds = (await call('provider', 'GET', `/v1/datasets/${task}-ds`)).body;
    expect(ds).toMatchObject({ status: 'ready', owner: expect.any(String), synthetic: true, storage_uuid: `${task}-a1-data`, site: 'default' });
    expect(ds.profile.row_count).toBe(500);
    const t = await sys.o.orchestrator.collections.synthesizeTasks.findOne({ _id: task });
    expect(t).toMatchObject({ status: 'done', data_storage_uuid: `${task}-a1-data`, model: model.id });
    process.stderr.write(`synthetic classification ${model.id}: ${JSON.stringify(done.performance_metrics)}\n`);
  }, 300_000);

  test('a numeric target: trained (regression metrics); a compute key cannot write any other data blob', async () => {
    const { done } = await trainSynthetic(
      [
        { name: 'rooms', type: 'numeric', role: 'feature' },
        { name: 'area', type: 'numeric', role: 'feature' },
        { name: 'garden', type: 'boolean', role: 'feature' },
        { name: 'price', type: 'numeric', role: 'target' },
      ],
      'decision_tree',
    );
    expect(done.status).toBe('trained');
    expect(done.trained_on).toBe('synthetic');
    expect(typeof done.performance_metrics.rmse).toBe('number');
    // Without a synthesize lease's capability a compute node still may not plant data.
    await expect(sys.storageAs('compute').uploadFile('data', 'planted-data', __filename, { contentType: 'text/csv' })).rejects.toMatchObject({ status: 403 });
  }, 300_000);
});
