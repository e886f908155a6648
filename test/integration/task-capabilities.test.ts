import { startTestOrchestrator, TEST_KEYS, type Reply, type TestOrchestrator, type TestRole } from '../harness/orchestrator-fixture';
import { startTestStorage, type TestStorage } from '../harness/storage-fixture';

/**
 * What a claim's capability opens and authorises, checked against a real
 * orchestrator and a real storage gateway (issue 15, items 1, 2, 10 and 11):
 * data only when its owner put it to that use, outputs only under the task's
 * own lease, capabilities that end with their lease, leases bound to the key
 * that claimed them, and reports whose scores name the uplet's own data.
 */
describe('task capabilities', () => {
  let t: TestOrchestrator;
  let s: TestStorage;
  beforeAll(async () => {
    t = await startTestOrchestrator('caps');
    s = await startTestStorage();
    for (const uuid of ['cd-train', 'cd-test-reg', 'cd-test-foreign', 'cd-pred', 'cd-other']) {
      expect((await blob('provider', 'PUT', 'data', uuid, undefined, `rows of ${uuid}`)).status).toBe(201);
    }
    // The organizer names a test item nobody registered to the problem, besides one its provider did.
    expect(
      (await t.call('organizer', 'POST', '/problem', { uuid: 'cp', workflow: 'wf', test_dataset: ['cd-test-reg', 'cd-test-foreign'], size_train_dataset: 1 }))
        .status,
    ).toBe(201);
    expect((await t.call('provider', 'POST', '/data', { uuid: ['cd-train', 'cd-test-reg'], problems: 'cp' })).status).toBe(201);
    expect((await t.call('author', 'POST', '/algo', { uuid: 'ca', name: 'a', problem: 'cp' })).status).toBe(201);
  });
  afterAll(async () => {
    await s?.cleanup();
    await t?.cleanup();
  });

  async function blob(role: TestRole, method: string, kind: string, uuid: string, capability?: string, body?: string): Promise<Reply> {
    const res = await fetch(`${s.url}/blobs/${kind}/${uuid}`, {
      method,
      headers: { 'x-api-key': TEST_KEYS[role].key, ...(capability ? { 'x-uplet-capability': capability } : {}) },
      ...(body === undefined ? {} : { body }),
    });
    const text = await res.text();
    try {
      return { status: res.status, body: JSON.parse(text) };
    } catch {
      return { status: res.status, body: text };
    }
  }

  async function rank0(problem: string): Promise<any> {
    return (await t.call('reader', 'GET', `/learnuplet?problem=${problem}&rank=0`)).body.learnuplets[0];
  }

  /** A problem with one done learnuplet (so predictions may be requested). */
  async function trainedProblem(problem: string): Promise<void> {
    await t.call('organizer', 'POST', '/problem', { uuid: problem, workflow: 'wf', test_dataset: [`${problem}-t`], size_train_dataset: 1 });
    await t.call('provider', 'POST', '/data', { uuid: [`${problem}-d`, `${problem}-t`], problems: problem });
    await t.call('author', 'POST', '/algo', { uuid: `${problem}-a`, name: 'a', problem });
    const l = await rank0(problem);
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${l.uuid}`, { worker: 'w' });
    const done = await t.call('compute', 'POST', `/learndone/${l.uuid}`, {
      status: 'done',
      perf: 0.5,
      train_perf: {},
      test_perf: {},
      lease_token: claim.body.lease.token,
    });
    expect(done.status).toBe(200);
  }

  // Item 1: a capability names only data whose owner put it to that use.
  test('a claim opens its train data and the test data registered to its problem, not test data nobody registered there', async () => {
    const l = await rank0('cp');
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${l.uuid}`, { worker: 'w' });
    expect(claim.status).toBe(200);
    const cap = claim.body.lease.capability as string;
    expect((await blob('compute', 'GET', 'data', 'cd-train', cap)).status).toBe(200);
    expect((await blob('compute', 'GET', 'data', 'cd-test-reg', cap)).status).toBe(200);
    const foreign = await blob('compute', 'GET', 'data', 'cd-test-foreign', cap);
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.message).toMatch(/does not name data\/cd-test-foreign/);
    expect((await t.call('compute', 'POST', `/worker/learnuplet/${l.uuid}/release`, { lease_token: claim.body.lease.token })).status).toBe(200);
  });

  test('a prediction request names only data its requester registered; compute nodes may not request predictions', async () => {
    await trainedProblem('pp');
    // Prediction data: registered by its owner to no problem (so it never becomes train data).
    const reg = await t.call('provider', 'POST', '/data', { uuid: 'cd-pred', problems: [] });
    expect(reg.status).toBe(201);
    const before = (await t.call('reader', 'GET', '/preduplet?problem=pp')).body.preduplets.length;
    const refused: Array<[TestRole, unknown, number, RegExp | undefined]> = [
      ['reader', ['cd-pred'], 422, /data/], // another principal's data
      ['provider', ['cd-pred', 'never-registered'], 422, /data\.1/], // unregistered data
      ['provider', 'cd-other', 422, /data/], // a blob at the gateway, never registered
      ['compute', ['cd-pred'], 403, undefined],
    ];
    for (const [who, data, status, field] of refused) {
      const res = await t.call(who, 'POST', '/prediction', { data, problem: 'pp' });
      expect({ who, data, status: res.status }).toEqual({ who, data, status });
      if (field) expect(`${res.body.error.code} ${JSON.stringify(res.body.error.details)}`).toMatch(field);
    }
    expect((await t.call('reader', 'GET', '/preduplet?problem=pp')).body.preduplets.length).toBe(before);

    const ok = await t.call('provider', 'POST', '/prediction', { data: ['cd-pred'], problem: 'pp' });
    expect(ok.status).toBe(201);
    const [puuid] = ok.body.preduplets;
    const claim = await t.call('compute', 'POST', `/worker/preduplet/${puuid}`, { worker: 'w' });
    expect((await blob('compute', 'GET', 'data', 'cd-pred', claim.body.lease.capability)).status).toBe(200);
    await t.call('compute', 'POST', `/worker/preduplet/${puuid}/release`, { lease_token: claim.body.lease.token });
  });

  // Item 2: outputs are written only under the task's own lease, and the gateway records which.
  test('a model is written only with the capability of a lease of its own learnuplet, and the blob records that lease', async () => {
    await trainedProblem('mp');
    await t.call('provider', 'POST', '/data', { uuid: ['mp-d2'], problems: 'mp' });
    const ls = (await t.call('reader', 'GET', '/learnuplet?problem=mp')).body.learnuplets as any[];
    const [first, second] = [ls.find((l) => l.rank === 0), ls.find((l) => l.rank === 1)];
    expect(second.status).toBe('todo');
    // Planting: no capability, or the capability of another learnuplet.
    expect((await blob('compute', 'PUT', 'model', second.model_end, undefined, 'planted')).status).toBe(403);
    const otherUuid = (await rank0('cp')).uuid;
    const other = await t.call('compute', 'POST', `/worker/learnuplet/${otherUuid}`, { worker: 'w' });
    expect(other.status).toBe(200);
    expect((await blob('compute', 'PUT', 'model', second.model_end, other.body.lease.capability, 'planted')).status).toBe(403);
    expect((await blob('compute', 'PUT', 'model', first.model_end, other.body.lease.capability, 'planted')).status).toBe(403);
    expect((await blob('compute', 'GET', 'model', second.model_end)).status).toBe(404);

    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${second.uuid}`, { worker: 'w' });
    const cap = claim.body.lease.capability as string;
    expect((await blob('compute2', 'PUT', 'model', second.model_end, cap, 'model')).status).toBe(403); // issued to node-1
    const put = await blob('compute', 'PUT', 'model', second.model_end, cap, 'model');
    expect(put.status).toBe(201);
    expect(put.body.written_under).toEqual({ kind: 'learnuplet', uplet: second.uuid, attempt: 1, principal: TEST_KEYS.compute.name });
    expect((await blob('compute', 'GET', 'model', second.model_end)).body).toBe('model');
    // A learnuplet's capability writes nothing else: not another model, not a prediction.
    expect((await blob('compute', 'PUT', 'model', 'some-other-model', cap, 'x')).status).toBe(403);
    expect((await blob('compute', 'PUT', 'prediction', 'some-prediction', cap, 'x')).status).toBe(403);
    await t.call('compute', 'POST', `/worker/learnuplet/${second.uuid}/release`, { lease_token: claim.body.lease.token });
    await t.call('compute', 'POST', `/worker/learnuplet/${otherUuid}/release`, { lease_token: other.body.lease.token });
  });

  test('a prediction is written under its lease, and /preddone must name that blob', async () => {
    const reg = await t.call('provider', 'POST', '/data', { uuid: 'cd-pred-2', problems: [] });
    expect(reg.status).toBe(201);
    const ok = await t.call('provider', 'POST', '/prediction', { data: ['cd-pred-2'], problem: 'pp' });
    const [puuid] = ok.body.preduplets;
    const claim = await t.call('compute', 'POST', `/worker/preduplet/${puuid}`, { worker: 'w' });
    const lease = claim.body.lease;
    const output = `prediction-${puuid}-${lease.attempt}`;
    expect(lease.writes).toEqual([`prediction/${output}`]);
    expect((await blob('compute', 'PUT', 'prediction', `prediction-${puuid}`, lease.capability, 'p')).status).toBe(403);
    expect((await blob('compute', 'PUT', 'prediction', output, undefined, 'p')).status).toBe(403);
    const put = await blob('compute', 'PUT', 'prediction', output, lease.capability, 'p');
    expect(put.status).toBe(201);
    expect(put.body.written_under).toMatchObject({ kind: 'preduplet', uplet: puuid, attempt: lease.attempt });

    const wrong = await t.call('compute', 'POST', `/preddone/${puuid}`, {
      status: 'done',
      prediction_storage_uuid: 'some-other-blob',
      lease_token: lease.token,
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.details).toMatchObject({ field: 'prediction_storage_uuid' });
    expect((await t.call('reader', 'GET', `/preduplet/${puuid}`)).body.status).toBe('pending');
    const right = await t.call('compute', 'POST', `/preddone/${puuid}`, { status: 'done', prediction_storage_uuid: output, lease_token: lease.token });
    expect(right.status).toBe(200);
    expect(right.body.updated_preduplet.prediction_storage_uuid ?? (await t.call('reader', 'GET', `/preduplet/${puuid}`)).body.prediction_storage_uuid).toBe(
      output,
    );
  });

  // Item 10: any finite perf; per-item scores name the uplet's own data.
  test('a report with a huge perf is accepted; per-item scores of data outside the uplet are refused naming the field', async () => {
    await t.call('organizer', 'POST', '/problem', { uuid: 'hp', workflow: 'wf', test_dataset: ['hp-t'], size_train_dataset: 1 });
    await t.call('provider', 'POST', '/data', { uuid: ['hp-d', 'hp-t'], problems: 'hp' });
    await t.call('author', 'POST', '/algo', { uuid: 'hp-a', name: 'a', problem: 'hp' });
    const l = await rank0('hp');
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${l.uuid}`, { worker: 'w' });
    const token = claim.body.lease.token;
    const base = { status: 'done', perf: -1e300, train_perf: { 'hp-d': 2 ** 60 }, test_perf: { 'hp-t': -(2 ** 70) }, lease_token: token };
    for (const [field, body] of [
      ['train_perf', { ...base, train_perf: { 'hp-d': 1, 'hp-t': 1 } }],
      ['test_perf', { ...base, test_perf: { 'hp-t': 1, 'cd-train': 1 } }],
      ['train_perf', { ...base, train_perf: { 'not-data': 1 } }],
    ] as const) {
      const res = await t.call('compute', 'POST', `/learndone/${l.uuid}`, body);
      expect({ field, status: res.status }).toEqual({ field, status: 422 });
      expect(res.body.error.details).toMatchObject({ field });
      expect((await t.call('reader', 'GET', `/learnuplet/${l.uuid}`)).body.status).toBe('pending');
    }
    const done = await t.call('compute', 'POST', `/learndone/${l.uuid}`, base);
    expect(done.status).toBe(200);
    const after = (await t.call('reader', 'GET', `/learnuplet/${l.uuid}`)).body;
    expect(after).toMatchObject({ status: 'done', perf: -1e300, train_perf: { 'hp-d': 2 ** 60 }, test_perf: { 'hp-t': -(2 ** 70) } });
  });

  // Item 11: a lease token works only for the key that claimed it.
  test('heartbeat, release and report with another compute key’s token are refused, and change nothing', async () => {
    await t.call('organizer', 'POST', '/problem', { uuid: 'kp', workflow: 'wf', test_dataset: ['kp-t'], size_train_dataset: 1 });
    await t.call('provider', 'POST', '/data', { uuid: ['kp-d', 'kp-t'], problems: 'kp' });
    await t.call('author', 'POST', '/algo', { uuid: 'kp-a', name: 'a', problem: 'kp' });
    const l = await rank0('kp');
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${l.uuid}`, { worker: 'w' });
    const token = claim.body.lease.token;
    const hb = await t.call('compute2', 'POST', `/worker/learnuplet/${l.uuid}/heartbeat`, { lease_token: token });
    expect([hb.status, hb.body.error?.code]).toEqual([409, 'LEASE_LOST']);
    const rel = await t.call('compute2', 'POST', `/worker/learnuplet/${l.uuid}/release`, { lease_token: token });
    expect([rel.status, rel.body.error?.code]).toEqual([409, 'LEASE_LOST']);
    const rep = await t.call('compute2', 'POST', `/learndone/${l.uuid}`, { status: 'done', perf: 1, train_perf: {}, test_perf: {}, lease_token: token });
    expect([rep.status, rep.body.error?.code]).toEqual([409, 'NOT_LEASE_HOLDER']);
    const noToken = await t.call('compute2', 'POST', `/learndone/${l.uuid}`, { status: 'done', perf: 1, train_perf: {}, test_perf: {} });
    expect([noToken.status, noToken.body.error?.code]).toEqual([409, 'NOT_LEASE_HOLDER']);
    expect((await t.call('reader', 'GET', `/learnuplet/${l.uuid}`)).body).toMatchObject({ status: 'pending', attempt: 1 });
    // The holder's own calls still work.
    expect((await t.call('compute', 'POST', `/worker/learnuplet/${l.uuid}/heartbeat`, { lease_token: token })).status).toBe(200);
    expect(
      (await t.call('compute', 'POST', `/learndone/${l.uuid}`, { status: 'done', perf: 1, train_perf: {}, test_perf: {}, lease_token: token })).status,
    ).toBe(200);
  });
});

/** Item 11: a capability lives no longer than its lease; heartbeats renew both. */
describe('capabilities end with their lease', () => {
  let t: TestOrchestrator;
  let s: TestStorage;
  beforeAll(async () => {
    t = await startTestOrchestrator('capexp', { LEASE_SECONDS: '4', REAPER_INTERVAL_MS: '600000' });
    s = await startTestStorage();
    await fetch(`${s.url}/blobs/data/ex-d`, { method: 'PUT', headers: { 'x-api-key': TEST_KEYS.provider.key }, body: 'rows' });
    await t.call('organizer', 'POST', '/problem', { uuid: 'ep', workflow: 'wf', test_dataset: ['ex-t'], size_train_dataset: 1 });
    await t.call('provider', 'POST', '/data', { uuid: ['ex-d', 'ex-t'], problems: 'ep' });
    await t.call('author', 'POST', '/algo', { uuid: 'ex-a', name: 'a', problem: 'ep' });
  });
  afterAll(async () => {
    await s?.cleanup();
    await t?.cleanup();
  });

  const read = (cap: string) =>
    fetch(`${s.url}/blobs/data/ex-d`, { headers: { 'x-api-key': TEST_KEYS.compute.key, 'x-uplet-capability': cap } }).then((r) => r.status);
  const expOf = (cap: string) => JSON.parse(Buffer.from(cap.split('.')[0]!, 'base64url').toString('utf8')).exp as number;

  test('the claim’s capability expires with the lease; the heartbeat answer carries a fresh one', async () => {
    const [l] = (await t.call('reader', 'GET', '/learnuplet?problem=ep')).body.learnuplets;
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${l.uuid}`, { worker: 'w' });
    const first = claim.body.lease.capability as string;
    expect(expOf(first)).toBeLessThanOrEqual(Math.ceil(new Date(claim.body.lease.expires_at).getTime() / 1000));
    expect(await read(first)).toBe(200);
    await new Promise((r) => setTimeout(r, 2_500));
    const hb = await t.call('compute', 'POST', `/worker/learnuplet/${l.uuid}/heartbeat`, { lease_token: claim.body.lease.token });
    expect(hb.status).toBe(200);
    const fresh = hb.body.lease.capability as string;
    expect(expOf(fresh)).toBeGreaterThan(expOf(first));
    expect(expOf(fresh)).toBeLessThanOrEqual(Math.ceil(new Date(hb.body.lease.expires_at).getTime() / 1000));
    await new Promise((r) => setTimeout(r, (expOf(first) + 1) * 1000 - Date.now()));
    expect(await read(first)).toBe(403);
    expect(await read(fresh)).toBe(200);
  }, 20_000);
});
