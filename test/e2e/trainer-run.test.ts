import path from 'node:path';
import { startTestAgent, type TestAgent } from '../harness/agent-fixture';
import { TEST_KEYS } from '../harness/orchestrator-fixture';
import { registerReadyDataset, startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';
import { dominates } from '../../orchestrator/training/pareto';
import { breastCancerCsv } from '../harness/sklearn-tables';

describe('the trainer run (seed 004) end to end', () => {
  let sys: TestSystem;
  const extra: TestAgent[] = [];
  let datasetId: string;
  beforeAll(async () => {
    sys = await startTestSystem(
      'trainer',
      {
        LEASE_SECONDS: '30',
        REAPER_INTERVAL_MS: '500',
        MAX_ATTEMPTS: '3',
        TEACHER_URL_ALLOWLIST: JSON.stringify({ default: ['http://127.0.0.1:9/allowed/'] }),
      },
      { agent: false },
    );
    sys.a = await startTestAgent(sys.o.url, sys.s.url, sys.o.prefix, { AGENT_NAME: 'agent-a' });
    const csv = path.join(sys.work, 'bc.csv');
    breastCancerCsv(csv);
    datasetId = await registerReadyDataset(sys, 'bc-trainer', csv, 'bc');
  }, 120_000);
  afterAll(async () => {
    for (const a of extra) await a.cleanup();
    await sys?.cleanup();
  });

  /** The seed's client: the key as Bearer, plus a refresh-token header. */
  const seedCall = async (method: string, p: string, body?: unknown) => {
    const r = await fetch(`${sys.o.url}${p}`, {
      method,
      headers: {
        authorization: `Bearer ${TEST_KEYS.provider.key}`,
        'refresh-token': 'ignored-refresh-token',
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: r.status, body: (await r.json()) as any };
  };
  const finished = (jobId: string) =>
    waitFor(async () => {
      const v = (await seedCall('GET', `/v1/trainer/jobs/${jobId}`)).body;
      return v.status === 'completed' || v.status === 'failed' ? v : undefined;
    }, 400_000);
  const run = async (body: Record<string, unknown>) => {
    const r = await seedCall('POST', '/v1/trainer/run', { dataset_id: datasetId, task: { label_column: 'target', task_kind: 'classification' }, ...body });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ job_id: expect.any(String), status: expect.stringMatching(/^(pending|running)$/), message: null, dataset_id: datasetId });
    return r.body.job_id as string;
  };

  test('refusals name the field: unknown model type (listing the known ids), unknown column, bad filter value, both teachers, a teacher URL not allow-listed', async () => {
    const bad = (patch: Record<string, unknown>) =>
      seedCall('POST', '/v1/trainer/run', { dataset_id: datasetId, task: { label_column: 'target', task_kind: 'classification' }, ...patch });
    const before = await sys.o.orchestrator.collections.jobs.countDocuments({});
    const family = await bad({ model_types: ['decision_tree', 'tabm'] });
    expect(family.status).toBe(422);
    expect(family.body.error.details.field).toBe('model_types.1');
    expect(family.body.error.message).toMatch(/decision_tree.*random_forest.*linear.*neural_network.*hist_gradient_boosting.*xgboost/);
    const column = await bad({ task: { label_column: 'nope', task_kind: 'classification' } });
    expect(column.status).toBe(422);
    expect(column.body.error.details.field).toBe('task.label_column');
    const filterCol = await bad({ filter: { col: 'ghost', kind: 'cmp', value: 1 } });
    expect(filterCol.body.error.details.field).toBe('filter.col');
    const filterValue = await bad({ filter: { col: 'mean_radius', kind: 'cmp', op: '>', value: 'big' } });
    expect(filterValue.status).toBe(422);
    expect(filterValue.body.error.details.field).toBe('filter.value');
    const teachers = await bad({ teacher_model_id: 'some-model', teacher_predict_url: 'http://127.0.0.1:9/allowed/predict' });
    expect(teachers.status).toBe(422);
    expect(teachers.body.error.details.field).toBe('teacher_predict_url');
    const offSite = await bad({ teacher_predict_url: 'http://127.0.0.1:9/elsewhere/predict' });
    expect(offSite.status).toBe(422);
    expect(offSite.body.error.message).toMatch(/not allow-listed for site default/);
    const unknownTeacher = await bad({ teacher_model_id: 'no-such-model' });
    expect(unknownTeacher.status).toBe(422);
    expect(unknownTeacher.body.error.details.field).toBe('teacher_model_id');
    expect(await sys.o.orchestrator.collections.jobs.countDocuments({})).toBe(before);
    // Without a key: 401, whatever the refresh token.
    expect((await fetch(`${sys.o.url}/v1/trainer/jobs/x`, { headers: { 'refresh-token': 't' } })).status).toBe(401);
  }, 60_000);

  test('a canceled job reports status failed, message "canceled"', async () => {
    const jobId = await run({ model_types: ['decision_tree'], n_trials: 8 });
    const c = await seedCall('POST', `/v1/trainer/jobs/${jobId}/cancel`);
    expect(c.status).toBe(200);
    expect(c.body).toEqual({ job_id: jobId, status: 'failed', message: 'canceled', dataset_id: datasetId });
    const v = (await seedCall('GET', `/v1/trainer/jobs/${jobId}`)).body;
    expect(v.status).toBe('failed');
    expect(v.message).toBe('canceled');
    // Let the agent drain whatever it had already claimed before the next tests measure.
    await waitFor(
      async () =>
        (await sys.o.orchestrator.collections.trials.countDocuments({ job: jobId, status: { $in: ['todo', 'pending'] } as never })) === 0 || undefined,
      60_000,
    );
  }, 90_000);

  const REPRO = { model_types: ['decision_tree', 'linear'], metrics: ['accuracy'], strategy: 'optuna', n_trials: 6, random_state: 5 };
  const fingerprint = (v: any) => ({
    trials: v.trials.map((t: any) => ({ trial: `${t.row}-${t.index}`, family: t.family, status: t.status, params: t.params, metrics: t.metrics })),
    final: { family: v.final_model.family, params: v.final_model.params, metrics: v.final_model.report.metrics },
  });
  let oneAgent: any;

  test('one agent: the matrix runs in rounds, trials of a round get distinct proposals, the leaderboard is per row', async () => {
    const jobId = await run(REPRO);
    const v = await finished(jobId);
    expect(v.status).toBe('completed');
    expect(v.progress.trials_done).toBe(12);
    expect(v.trials).toHaveLength(12);
    expect(v.leaderboard.map((r: any) => r.family)).toEqual(['decision_tree', 'linear']);
    for (const row of v.leaderboard) {
      expect(row.trials).toHaveLength(6);
      const params = row.trials.map((t: any) => JSON.stringify(t.params));
      expect(new Set(params).size).toBe(6);
      for (let i = 1; i < row.trials.length; i++) expect(row.trials[i - 1].objective).toBeGreaterThanOrEqual(row.trials[i].objective);
    }
    // Round 2 (indices 4, 5) was asked with the history of round 1 (indices 0–3), stored once for the round (trial_rounds).
    const docs = await sys.o.orchestrator.collections.trials.find({ job: jobId }).toArray();
    const rounds = new Map((await sys.o.orchestrator.collections.trialRounds.find({ job: jobId }).toArray()).map((r) => [r._id, r]));
    expect(rounds.size).toBe(4); // two rows, two rounds each
    for (const t of docs) {
      expect((t.ask as any).history).toBeUndefined();
      expect(rounds.get(t.ask_round!)?.history).toHaveLength(t.index < 4 ? 0 : 4);
    }
    expect(new Set(docs.filter((t) => t.row === 0 && t.index < 4).map((t) => (t.ask as any).index))).toEqual(new Set([0, 1, 2, 3]));
    expect(v.pareto_front).toBeNull();
    expect(v.final_model.kind).toBe('refit');
    expect(v.final_model.report.metrics.accuracy).toBeGreaterThan(0.85);
    oneAgent = fingerprint(v);
  }, 400_000);

  test('three agents: the same request gives the same trial params, metrics and final model', async () => {
    extra.push(await startTestAgent(sys.o.url, sys.s.url, sys.o.prefix, { AGENT_NAME: 'agent-b', AGENT_API_KEY: TEST_KEYS.compute2.key }));
    extra.push(await startTestAgent(sys.o.url, sys.s.url, sys.o.prefix, { AGENT_NAME: 'agent-c' }));
    const since = new Date();
    const jobId = await run(REPRO);
    const v = await finished(jobId);
    expect(v.status).toBe('completed');
    expect(fingerprint(v)).toEqual(oneAgent);
    const settlements = await sys.o.orchestrator.collections.settlements.find({ kind: 'trial', status: 'done' }).toArray();
    const workers = new Set((await sys.o.orchestrator.collections.trials.find({ job: jobId }).toArray()).map((t) => t.worker));
    process.stderr.write(
      `reproducibility: 12 trials identical with 1 and with 3 agents (workers this run: ${[...workers].join(', ')}; ${settlements.length} trial settlements since ${since.toISOString()})\n`,
    );
  }, 400_000);

  test('two metrics with grid_size: the Pareto front holds no dominated point; ensemble: Caruana OOF score ≥ the best single model', async () => {
    const jobId = await run({
      model_types: ['decision_tree', 'linear'],
      metrics: ['accuracy', 'log_loss'],
      grid_size: 1,
      n_trials: 3,
      n_splits: 3,
      ensemble: true,
      random_state: 11,
    });
    const v = await finished(jobId);
    expect(v.status).toBe('completed');
    expect(v.leaderboard).toHaveLength(4);
    expect(v.leaderboard.map((r: any) => r.weights)).toEqual([
      { accuracy: 1, log_loss: 0 },
      { accuracy: 0, log_loss: 1 },
      { accuracy: 1, log_loss: 0 },
      { accuracy: 0, log_loss: 1 },
    ]);
    const done = v.trials.filter((t: any) => t.status === 'done').map((t: any) => ({ id: t.trial, values: t.metrics }));
    expect(done).toHaveLength(12);
    const front = v.pareto_front.map((p: any) => ({ id: p.trial, values: p.metrics }));
    expect(front.length).toBeGreaterThan(0);
    for (const p of front) for (const q of done) expect(dominates(q, p, ['accuracy', 'log_loss'])).toBe(false);
    // Every trial left out is dominated by one on the front.
    for (const q of done.filter((d: any) => !front.some((p: any) => p.id === d.id)))
      expect(front.some((p: any) => dominates(p, q, ['accuracy', 'log_loss']))).toBe(true);
    const model = v.final_model.report.model;
    expect(v.final_model.kind).toBe('ensemble');
    expect(model.oof_score).toBeGreaterThanOrEqual(model.best_single_oof_score);
    expect(model.weights).toHaveLength(12);
    process.stderr.write(
      `pareto: ${front.length} of ${done.length} trials non-dominated; ensemble OOF accuracy ${model.oof_score.toFixed(4)} vs best single ${model.best_single_oof_score.toFixed(4)}; held-out accuracy ${v.final_model.report.metrics.accuracy.toFixed(4)}\n`,
    );
  }, 400_000);

  test('regression through the same API: a numeric label, k-fold, rmse/r2 reported on the held-out rows, the model registered', async () => {
    const jobId = await run({
      task: { label_column: 'mean_radius', task_kind: 'regression' },
      model_types: ['linear', 'random_forest'],
      metrics: ['rmse', 'r2'],
      n_trials: 2,
      n_splits: 3,
      random_state: 5,
    });
    const v = await finished(jobId);
    expect(v.status).toBe('completed');
    expect(v.trials).toHaveLength(4);
    expect(v.trials.every((t: any) => t.status === 'done' && typeof t.metrics.rmse === 'number' && typeof t.metrics.r2 === 'number')).toBe(true);
    // Several metrics without grid_size: the first (rmse, lower is better) is optimised, so each row's leader has its lowest rmse.
    for (const row of v.leaderboard) {
      const rmses = row.trials.map((t: any) => t.metrics.rmse);
      expect(row.trials[0].metrics.rmse).toBe(Math.min(...rmses));
    }
    const report = v.final_model.report;
    // mean_radius is nearly a function of mean_perimeter and mean_area: a working regressor explains almost all of it.
    expect(report.metrics.r2).toBeGreaterThan(0.9);
    expect(report.metrics.rmse).toBeGreaterThan(0);
    expect(report.metrics.accuracy).toBeUndefined();
    const model = await sys.o.call('provider', 'GET', `/v1/models/${v.final_model.model_id}`);
    expect(model.status).toBe(200);
    process.stderr.write(`trainer regression: held-out rmse ${report.metrics.rmse.toFixed(4)}, r2 ${report.metrics.r2.toFixed(4)} (${v.final_model.family})\n`);
  }, 400_000);
});
