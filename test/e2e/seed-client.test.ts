import { startTestOrchestrator, TEST_KEYS, type TestOrchestrator } from '../harness/orchestrator-fixture';

/**
 * A compute client written to the seed's API (Morpheo's) and nothing else: it knows the
 * seed's paths and fields, reads the uuids the seed's keys carry, reports per-file scores as
 * lists without a lease token — and the chain advances.
 */
class SeedComputeClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { 'x-api-key': this.apiKey, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() };
  }

  /** Claims a learnuplet, reads it back by the uuid the claim answers with, reports a result. */
  async trainOnce(uuid: string, perf: number): Promise<string> {
    const claim = await this.call('POST', `/worker/learnuplet/${uuid}`, { worker: 'morpheo-node' });
    if (claim.status !== 200) throw new Error(`claim: ${claim.status} ${JSON.stringify(claim.body)}`);
    const claimed: string = claim.body.learnuplet_worker_set;
    const uplet = (await this.call('GET', `/learnuplet/${claimed}`)).body;
    const done = await this.call('POST', `/learndone/${claimed}`, {
      status: 'done',
      perf,
      train_perf: uplet.train_data.map(() => perf),
      test_perf: uplet.test_data.map((_: string, i: number) => perf - i / 100),
    });
    if (done.status !== 200) throw new Error(`learndone: ${done.status} ${JSON.stringify(done.body)}`);
    return done.body.updated_learnuplet;
  }
}

describe('a seed-only compute client', () => {
  let t: TestOrchestrator;
  beforeAll(async () => void (t = await startTestOrchestrator('seedclient')));
  afterAll(async () => t.cleanup());

  test('claims, reports with lists, reads the uuids back, and the chain advances', async () => {
    await t.call('organizer', 'POST', '/problem', { uuid: 'sp', workflow: 'wf', test_dataset: ['st1', 'st2'], size_train_dataset: 2 });
    await t.call('provider', 'POST', '/data', { uuid: ['sd1', 'sd2', 'sd3', 'sd4'], problems: 'sp' });
    await t.call('author', 'POST', '/algo', { uuid: 'sa', name: 'seed algo', problem: 'sp' });
    const client = new SeedComputeClient(t.url, TEST_KEYS.compute.key);

    const [rank0] = (await client.call('GET', '/learnuplet?problem=sp&status=todo')).body.learnuplets;
    expect(rank0).toMatchObject({ rank: 0, model_start: 'sa', train_data: ['sd1', 'sd2'], test_data: ['st1', 'st2'] });
    expect(await client.trainOnce(rank0.uuid, 0.8)).toBe(rank0.uuid);

    const after0 = (await client.call('GET', `/learnuplet/${rank0.uuid}`)).body;
    // Lists were stored as maps in the uplet's data order.
    expect(after0).toMatchObject({ status: 'done', perf: 0.8, train_perf: { sd1: 0.8, sd2: 0.8 }, test_perf: { st1: 0.8, st2: 0.79 } });

    const [rank1] = (await client.call('GET', '/learnuplet?problem=sp&status=todo')).body.learnuplets;
    expect(rank1).toMatchObject({ rank: 1, model_start: after0.model_end, train_data: ['sd3', 'sd4'] });
    expect(await client.trainOnce(rank1.uuid, 0.9)).toBe(rank1.uuid);

    // A prediction uses the best model; the seed's preddone answers with the uuid.
    // (on data its requester registered to no problem: predictions name only the requester's own data)
    await t.call('provider', 'POST', '/data', { uuid: 'sx1', problems: [] });
    const pred = await t.call('provider', 'POST', '/prediction', { data: ['sx1'], problem: 'sp' });
    expect(pred.status).toBe(201);
    const [p] = (await client.call('GET', '/preduplet?problem=sp')).body.preduplets;
    expect(p.model).toBe((await client.call('GET', `/learnuplet/${rank1.uuid}`)).body.model_end);
    const pc = await client.call('POST', `/worker/preduplet/${p.uuid}`, { worker: 'morpheo-node' });
    expect(pc.body.preduplet_worker_set).toBe(p.uuid);
    // The one uuid accepted: the prediction blob its lease may write (`prediction-<uuid>-<attempt>`).
    const pd = await client.call('POST', `/preddone/${p.uuid}`, { status: 'done', prediction_storage_uuid: `prediction-${p.uuid}-1` });
    expect(pd.body.updated_preduplet).toBe(p.uuid);
  });

  test('a score list of the wrong length is a 400 naming the field, and records nothing', async () => {
    // Ranks 0 and 1 are done (above); two more items make rank 2.
    await t.call('provider', 'POST', '/data', { uuid: ['sd5', 'sd6'], problems: 'sp' });
    const [next] = (await t.call('reader', 'GET', '/learnuplet?problem=sp&status=todo')).body.learnuplets;
    expect(next.rank).toBe(2);
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${next.uuid}`, { worker: 'morpheo-node' });
    const bad = await t.call('compute', 'POST', `/learndone/${next.uuid}`, {
      status: 'done',
      perf: 0.5,
      train_perf: [0.5],
      test_perf: [0.5, 0.5],
      lease_token: claim.body.lease.token,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toMatchObject({ where: 'body', field: 'train_perf', expected_length: 2, got_length: 1 });
    expect((await t.call('reader', 'GET', `/learnuplet/${next.uuid}`)).body.status).toBe('pending');
  });
});
