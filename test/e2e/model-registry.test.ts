import path from 'node:path';
import WebSocket from 'ws';
import { loadConfig } from '../../shared/config/load-config';
import { silentLogger } from '../../shared/logging/logger';
import { orchestratorSettingsSchema } from '../../orchestrator/config';
import { startOrchestrator, type RunningOrchestrator } from '../../orchestrator/orchestrator-service';
import { callAs, TEST_KEYS, TEST_CAPABILITY_SECRET } from '../harness/orchestrator-fixture';
import { testAmqpUrl } from '../harness/test-broker';
import { startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';
import { breastCancerCsv } from '../harness/sklearn-tables';

interface SocketClient {
  ws: WebSocket;
  messages: any[];
  events(): any[];
  close(): Promise<void>;
}

function connect(url: string, query: string, auth: 'header' | 'message' | 'none' = 'header', role: keyof typeof TEST_KEYS = 'provider'): Promise<SocketClient> {
  const headers = auth === 'header' ? { 'x-api-key': TEST_KEYS[role].key } : undefined;
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/ml-models/events?${query}`, { headers });
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse((data as Buffer).toString('utf8'))));
  return new Promise((resolve, reject) => {
    ws.once('open', () => {
      if (auth === 'message') ws.send(JSON.stringify({ type: 'auth', api_key: TEST_KEYS[role].key }));
      resolve({
        ws,
        messages,
        events: () => messages.filter((m) => m.type === 'event').map((m) => m.event),
        close: () =>
          new Promise<void>((r) => {
            if (ws.readyState === ws.CLOSED) r();
            else {
              ws.once('close', () => r());
              ws.close();
            }
          }),
      });
    });
    ws.once('error', reject);
  });
}

describe('the ML-model registry (seed 003)', () => {
  let sys: TestSystem;
  let second: RunningOrchestrator;
  let project = 0;
  const newProject = () => `proj-${process.pid}-${++project}`;
  beforeAll(async () => {
    sys = await startTestSystem('registry', { LEASE_SECONDS: '30', REAPER_INTERVAL_MS: '500' });
    // A second orchestrator on the same database and broker: a replica.
    second = await startOrchestrator(
      loadConfig(orchestratorSettingsSchema, {
        MONGO_URL: sys.o.database.url,
        MONGO_POOL_SIZE: '4',
        AMQP_URL: testAmqpUrl(),
        AMQP_PREFIX: sys.o.prefix,
        ORCHESTRATOR_PORT: '0',
        UPLET_API_KEYS: JSON.stringify(Object.values(TEST_KEYS)),
        UPLET_CAPABILITY_SECRET: TEST_CAPABILITY_SECRET,
        LOG_LEVEL: 'error',
      }),
      silentLogger(),
    );
  }, 90_000);
  afterAll(async () => {
    await second?.close();
    await sys?.cleanup();
  });
  const call = (...a: Parameters<TestSystem['o']['call']>) => sys.o.call(...a);

  const numericOntology = async (projectId: string) => {
    const r = await call('provider', 'POST', '/api/ontologies', {
      project_id: projectId,
      name: 'house prices',
      fields: [
        { name: 'rooms', type: 'numeric', role: 'feature' },
        { name: 'area', type: 'numeric', role: 'feature' },
        { name: 'age', type: 'numeric', role: 'feature' },
        { name: 'house_id', type: 'category', role: 'id' },
        { name: 'price', type: 'numeric', role: 'target' },
      ],
    });
    expect(r.status).toBe(201);
    return r.body.ontology_id as string;
  };
  const newModel = async (projectId: string, ontologyId: string, extra: Record<string, unknown> = {}) => {
    const r = await call('provider', 'POST', '/api/ml-models', { project_id: projectId, ontology_id: ontologyId, name: 'm', type: 'decision_tree', ...extra });
    expect(r.status).toBe(201);
    return r.body;
  };

  test('CRUD, the lifecycle, illegal transitions (409 naming both), validation', async () => {
    const p = newProject();
    const ont = await numericOntology(p);
    expect((await call('provider', 'GET', `/api/ontologies?project_id=${p}`)).body.ontologies).toHaveLength(1);
    // Two targets: 400 (shape); an unknown ontology: 422; an unknown type: 422 listing the known.
    expect(
      (
        await call('provider', 'POST', '/api/ontologies', {
          project_id: p,
          name: 'x',
          fields: [
            { name: 'a', role: 'target' },
            { name: 'b', role: 'target' },
          ],
        })
      ).status,
    ).toBe(400);
    const unknownOnt = await call('provider', 'POST', '/api/ml-models', { project_id: p, ontology_id: 'ont-nope', name: 'm', type: 'decision_tree' });
    expect(unknownOnt.status).toBe(422);
    const unknownType = await call('provider', 'POST', '/api/ml-models', { project_id: p, ontology_id: ont, name: 'm', type: 'tabm' });
    expect(unknownType.status).toBe(422);
    expect(unknownType.body.error.details.known).toEqual(['decision_tree', 'random_forest', 'regression', 'neural_network']);
    expect((await call('provider', 'POST', '/api/ml-models', { project_id: p, ontology_id: ont, type: 'decision_tree' })).status).toBe(400);

    const m = await newModel(p, ont, {
      description: 'first',
      training_config: { train_test_split: 0.7, random_seed: 3, learning_rate: 0.01, batch_size: 32 },
      metadata: { owner_team: 'a' },
    });
    expect(m.status).toBe('draft');
    expect(m.training_config).toEqual({ train_test_split: 0.7, random_seed: 3, learning_rate: 0.01, batch_size: 32 });
    expect((await call('provider', 'GET', `/api/ml-models/${m.id}`)).body.name).toBe('m');
    expect((await call('provider2', 'GET', `/api/ml-models/${m.id}`)).status).toBe(404);
    const list = (await call('provider', 'GET', `/api/ml-models?project_id=${p}`)).body.models;
    expect(list.map((x: any) => x.id)).toEqual([m.id]);

    // PUT: only the given fields; others refused (400).
    const put = await call('provider', 'PUT', `/api/ml-models/${m.id}`, { name: 'renamed', metadata: { k: 1 } });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ name: 'renamed', description: 'first', metadata: { k: 1 }, status: 'draft' });
    expect((await call('provider', 'PUT', `/api/ml-models/${m.id}`, { type: 'regression' })).status).toBe(400);
    // draft → trained is illegal: 409 naming both.
    const illegal = await call('provider', 'PUT', `/api/ml-models/${m.id}`, { status: 'trained' });
    expect(illegal.status).toBe(409);
    expect(illegal.body.error.code).toBe('ILLEGAL_TRANSITION');
    expect(illegal.body.error.details).toMatchObject({ current: 'draft', requested: 'trained' });
    // A callback on a draft: 409 too.
    const early = await call('compute', 'POST', `/api/ml-models/${m.id}/training/complete`, { model_artifact_path: 'x' });
    expect(early.status).toBe(409);
    expect(early.body.error.details).toMatchObject({ current: 'draft', requested: 'trained' });
    // Users may not call back; workers may not create.
    expect((await call('provider', 'POST', `/api/ml-models/${m.id}/training/fail`, { reason: 'x' })).status).toBe(403);
    // The whole walk: draft → training → trained → degraded → deprecated → archived (final).
    for (const s of ['training', 'trained', 'degraded', 'deprecated', 'archived']) {
      const r = await call('provider', 'PUT', `/api/ml-models/${m.id}`, { status: s });
      expect(r.status).toBe(200);
      expect(r.body.status).toBe(s);
    }
    const fromArchived = await call('provider', 'PUT', `/api/ml-models/${m.id}`, { status: 'draft' });
    expect(fromArchived.status).toBe(409);
    expect(fromArchived.body.error.message).toMatch(/archived.*draft/);
    // draft → archived directly (the seed's example), then DELETE → 204, then 404.
    const other = await newModel(p, ont);
    expect((await call('provider', 'PUT', `/api/ml-models/${other.id}`, { status: 'archived' })).body.status).toBe('archived');
    expect((await call('provider', 'DELETE', `/api/ml-models/${other.id}`)).status).toBe(204);
    expect((await call('provider', 'GET', `/api/ml-models/${other.id}`)).status).toBe(404);
    // Train with an unknown dataset: 422.
    const m2 = await newModel(p, ont);
    const bad = await call('provider', 'POST', '/api/ml-models/train', { model_id: m2.id, storage_ids: ['ds-nope'] });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.field).toBe('storage_ids.0');
  }, 60_000);

  test('concurrent callbacks record one outcome; a repeated identical callback answers as the first; transitions are fenced', async () => {
    const p = newProject();
    const ont = await numericOntology(p);
    for (let round = 0; round < 3; round++) {
      const m = await newModel(p, ont);
      expect((await call('provider', 'PUT', `/api/ml-models/${m.id}`, { status: 'training' })).status).toBe(200);
      const complete = {
        model_artifact_path: `storage://default/model/ext-${round}`,
        performance_metrics: { accuracy: 0.9, f1_score: 0.8, precision: 0.85, recall: 0.75 },
        training_metrics: { epoch: 10, training_loss: 0.2, validation_loss: 0.3 },
      };
      // Half the calls on each orchestrator, complete and fail racing.
      const calls = await Promise.all([
        ...Array.from({ length: 4 }, (_, i) => callAs(i % 2 ? second.url : sys.o.url, 'compute', 'POST', `/api/ml-models/${m.id}/training/complete`, complete)),
        ...Array.from({ length: 4 }, (_, i) =>
          callAs(i % 2 ? second.url : sys.o.url, 'compute2', 'POST', `/api/ml-models/${m.id}/training/fail`, { reason: 'oom' }),
        ),
      ]);
      const final = (await call('provider', 'GET', `/api/ml-models/${m.id}`)).body;
      expect(['trained', 'failed']).toContain(final.status);
      const winner = final.status === 'trained' ? 'training completed' : 'training failed';
      const loser = final.status === 'trained' ? 'training failed' : 'training completed';
      // Every call of the winning kind answers 200 with its status; every other is a 409.
      for (const r of calls) {
        if (r.status === 200) expect(r.body).toEqual({ status: winner });
        else {
          expect(r.status).toBe(409);
          expect(r.body.error.details.current).toBe(final.status);
        }
      }
      expect(calls.filter((r) => r.status === 200)).toHaveLength(4);
      expect(calls.filter((r) => r.status === 409 && r.body.error.details.requested === (loser === 'training failed' ? 'failed' : 'trained'))).toHaveLength(4);
      if (final.status === 'trained') {
        expect(final.performance_metrics).toEqual(complete.performance_metrics);
        expect(final.training_metrics).toEqual(complete.training_metrics);
        expect(final.model_artifact_path).toBe(complete.model_artifact_path);
        // The same report again: the same answer; a different one: 409.
        expect((await call('compute', 'POST', `/api/ml-models/${m.id}/training/complete`, complete)).body).toEqual({ status: 'training completed' });
        expect((await call('compute', 'POST', `/api/ml-models/${m.id}/training/complete`, { ...complete, model_artifact_path: 'other' })).status).toBe(409);
      } else expect(final.status_reason).toBe('oom');
      // One fence per transition: created→training→outcome.
      const fences = await sys.o.database.db.collection('registry_fences').find({ model: m.id }).toArray();
      expect(fences.map((f: any) => f.seq).sort()).toEqual([1, 2]);
    }
  }, 60_000);

  test('recommend on two contrasting ontologies', async () => {
    const p = newProject();
    const numeric = await numericOntology(p);
    const categorical = (
      await call('provider', 'POST', '/api/ontologies', {
        project_id: p,
        name: 'churn',
        fields: [
          ...Array.from({ length: 8 }, (_, i) => ({ name: `c${i}`, type: 'category', role: 'feature' })),
          { name: 'plan', type: 'category', role: 'target', choices: Array.from({ length: 12 }, (_, i) => `p${i}`) },
        ],
      })
    ).body.ontology_id;
    const a = await call('provider', 'POST', '/api/ml-models/recommend', { project_id: p, ontology_id: numeric });
    const b = await call('provider', 'POST', '/api/ml-models/recommend', { project_id: p, ontology_id: categorical });
    expect(a.status).toBe(200);
    expect(a.body.type).toBe('regression');
    expect(a.body.reasoning).toMatch(/numeric/);
    expect(a.body.ontology_analysis.task_kind).toBe('regression');
    expect(b.body.type).toBe('random_forest');
    expect(b.body.reasoning).toMatch(/categorical/);
    expect(b.body.all_scores.regression).toBeLessThan(b.body.all_scores.random_forest);
    for (const r of [a.body, b.body]) {
      expect(Object.keys(r).sort()).toEqual(['all_scores', 'data_analysis', 'ontology_analysis', 'reasoning', 'score', 'type']);
      expect(r.score).toBe(r.all_scores[r.type]);
    }
    // Deterministic.
    expect((await call('provider', 'POST', '/api/ml-models/recommend', { project_id: p, ontology_id: numeric })).body).toEqual(a.body);
    expect((await call('provider', 'POST', '/api/ml-models/recommend', { project_id: p, ontology_id: 'ont-missing' })).status).toBe(422);
  }, 30_000);

  test('WebSocket: events in order across two orchestrators, replayed after a reconnect, authenticated', async () => {
    const p = newProject();
    const ont = await numericOntology(p);
    // No key: refused with 4401.
    const anon = await connect(sys.o.url, `project_id=${p}`, 'none');
    const code = await new Promise<number>((r) => anon.ws.once('close', (c) => r(c)));
    expect(code).toBe(4401);

    const live = await connect(sys.o.url, `project_id=${p}`);
    const byMessage = await connect(sys.o.url, `project_id=${p}`, 'message');
    await waitFor(
      async () => (live.messages.some((m) => m.type === 'subscribed') && byMessage.messages.some((m) => m.type === 'subscribed') ? true : undefined),
      5_000,
    );
    // Changes made on the second orchestrator.
    const on2 = (method: string, p2: string, body?: unknown) => callAs(second.url, 'provider', method, p2, body);
    const m = (await on2('POST', '/api/ml-models', { project_id: p, ontology_id: ont, name: 'ws', type: 'regression' })).body;
    for (const s of ['training', 'failed', 'training']) expect((await on2('PUT', `/api/ml-models/${m.id}`, { status: s })).status).toBe(200);
    await waitFor(async () => (live.events().length >= 4 ? true : undefined), 10_000);
    const seen = live.events();
    expect(seen.map((e) => e.status)).toEqual(['draft', 'training', 'failed', 'training']);
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(seen[2]).toMatchObject({ model_id: m.id, from: 'training', project_id: p });
    await waitFor(async () => (byMessage.events().length >= 4 ? true : undefined), 10_000);
    await byMessage.close();

    // Disconnect after seq 2; changes while away; reconnect with since=2 on the other orchestrator.
    await live.close();
    expect((await on2('PUT', `/api/ml-models/${m.id}`, { status: 'draft' })).status).toBe(200);
    expect((await call('provider', 'PUT', `/api/ml-models/${m.id}`, { status: 'archived' })).status).toBe(200);
    const again = await connect(second.url, `project_id=${p}&since=2`);
    await waitFor(async () => (again.events().length >= 4 ? true : undefined), 10_000);
    // One more live change after the replay: still in order, each once.
    const m2 = (await call('provider', 'POST', '/api/ml-models', { project_id: p, ontology_id: ont, name: 'ws2', type: 'regression' })).body;
    await waitFor(async () => (again.events().length >= 5 ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(again.events().map((e) => e.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(again.events().map((e) => e.status)).toEqual(['failed', 'training', 'draft', 'archived', 'draft']);
    expect(again.events()[4].model_id).toBe(m2.id);
    await again.close();
    // Per model, and another provider hears nothing of this project.
    const perModel = await connect(sys.o.url, `model_id=${m.id}&since=0`);
    await waitFor(async () => (perModel.events().length >= 6 ? true : undefined), 10_000);
    expect(perModel.events().every((e) => e.model_id === m.id)).toBe(true);
    await perModel.close();
    const stranger = await connect(sys.o.url, `project_id=${p}&since=0`, 'header', 'provider2');
    await new Promise((r) => setTimeout(r, 500));
    expect(stranger.events()).toHaveLength(0);
    await stranger.close();
  }, 60_000);

  test('train → trained with real metrics on a real dataset (the engine job drives the transition)', async () => {
    const p = newProject();
    const csv = path.join(sys.work, 'bc.csv');
    breastCancerCsv(csv);
    await sys.storageAs('provider').uploadFile('data', 'reg-bc', csv, { contentType: 'text/csv' });
    const ds = (await call('provider', 'POST', '/v1/datasets', { name: 'bc', storage_uuid: 'reg-bc', format: 'csv' })).body.dataset_id;
    await waitFor(async () => ((await call('provider', 'GET', `/v1/datasets/${ds}`)).body.status === 'ready' ? true : undefined), 60_000);
    const ontology = await call('provider', 'POST', '/api/ontologies', { project_id: p, name: 'bc', dataset_id: ds, target: 'target' });
    expect(ontology.status).toBe(201);
    expect(ontology.body.fields.find((f: any) => f.name === 'target')).toMatchObject({ role: 'target', type: 'category' });
    const rec = (await call('provider', 'POST', '/api/ml-models/recommend', { project_id: p, ontology_id: ontology.body.ontology_id })).body;
    expect(rec.data_analysis).toMatchObject({ profiled: true, row_count: 569 });
    const events = await connect(sys.o.url, `project_id=${p}&since=0`);
    const m = await newModel(p, ontology.body.ontology_id, { type: 'random_forest', training_config: { train_test_split: 0.8, random_seed: 7 } });
    const started = await call('provider', 'POST', '/api/ml-models/train', { model_id: m.id, storage_ids: [ds] });
    expect(started.status).toBe(202);
    expect(started.body.status).toBe('training');
    expect(started.body.job_id).toBeTruthy();
    // Training again while training: 409.
    expect((await call('provider', 'POST', '/api/ml-models/train', { model_id: m.id, storage_ids: [ds] })).status).toBe(409);
    const done = await waitFor(async () => {
      const x = (await call('provider', 'GET', `/api/ml-models/${m.id}`)).body;
      return x.status === 'training' ? undefined : x;
    }, 240_000);
    expect(done.status).toBe('trained');
    expect(done.performance_metrics.accuracy).toBeGreaterThan(0.85);
    for (const k of ['f1_score', 'precision', 'recall']) expect(done.performance_metrics[k]).toBeGreaterThan(0.8);
    expect(done.model_artifact_path).toBe(`storage://default/model/${started.body.job_id}-final-a1-model`);
    expect(done.trained_on_synthetic_data).toBe(false);
    // A late worker callback cannot overwrite the engine's outcome.
    expect((await call('compute', 'POST', `/api/ml-models/${m.id}/training/fail`, { reason: 'late' })).status).toBe(409);
    await waitFor(async () => (events.events().some((e) => e.status === 'trained') ? true : undefined), 10_000);
    expect(events.events().map((e) => e.status)).toEqual(['draft', 'training', 'trained']);
    await events.close();
    process.stderr.write(`registry model ${m.id}: ${JSON.stringify(done.performance_metrics)}\n`);

    // A neural network's training_config sets its learning rate and batch size: the trial runs them as given.
    const nn = await newModel(p, ontology.body.ontology_id, {
      type: 'neural_network',
      training_config: { train_test_split: 0.8, random_seed: 7, learning_rate: 0.01, batch_size: 32 },
    });
    const nnStarted = await call('provider', 'POST', '/api/ml-models/train', { model_id: nn.id, storage_ids: [ds] });
    expect(nnStarted.status).toBe(202);
    const nnDone = await waitFor(async () => {
      const x = (await call('provider', 'GET', `/api/ml-models/${nn.id}`)).body;
      return x.status === 'training' ? undefined : x;
    }, 240_000);
    expect(nnDone.status).toBe('trained');
    const job = (await call('provider', 'GET', `/v1/jobs/${nnStarted.body.job_id}`)).body;
    expect(job.trials).toHaveLength(1);
    expect(job.trials[0].params).toMatchObject({ learning_rate_init: 0.01, batch_size: 32 });
    // An iterative family reports its epochs and losses (training, and the same loss on the held-out rows).
    expect(nnDone.training_metrics.epoch).toBeGreaterThan(0);
    expect(nnDone.training_metrics.training_loss).toBeGreaterThan(0);
    expect(nnDone.training_metrics.validation_loss).toBeGreaterThan(0);
  }, 400_000);
});
