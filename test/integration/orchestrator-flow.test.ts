import { startTestOrchestrator, type TestOrchestrator } from '../harness/orchestrator-fixture';

/** The seed flow over HTTP against the real database and broker. */
describe('orchestrator seed flow', () => {
  let t: TestOrchestrator;
  beforeAll(async () => void (t = await startTestOrchestrator('flow')));
  afterAll(async () => t.cleanup());

  const learnupletsOf = async (algo: string) => (await t.call('reader', 'GET', `/learnuplet?algo=${algo}&limit=1000`)).body.learnuplets as any[];

  test('problem, data, algo → chains; claim, learndone → next rank; prediction → preddone', async () => {
    expect((await t.call('organizer', 'POST', '/problem', { uuid: 'p1', workflow: 'wf1', test_dataset: ['t1', 't2'], size_train_dataset: 2 })).status).toBe(
      201,
    );

    const data = await t.call('provider', 'POST', '/data', { uuid: ['d1', 'd2', 'd3', 't1', 't2'], problems: 'p1' });
    expect(data.status).toBe(201);
    expect(data.body.new_datas.map((d: any) => d.uuid)).toEqual(['d1', 'd2', 'd3', 't1', 't2']);
    expect(data.body.new_learnuplets).toBe(0);

    const algo = await t.call('author', 'POST', '/algo', { uuid: 'a1', name: 'logreg', problem: 'p1' });
    expect(algo.status).toBe(201);
    expect(algo.body.new_algo).toMatchObject({ uuid: 'a1', owner: 'author' });
    expect(algo.body.new_learnuplets).toBe(1);

    // d3 waits, visibly, for a full minibatch.
    const problem = await t.call('reader', 'GET', '/problem/p1');
    expect(problem.body).toMatchObject({ uuid: 'p1', minibatches: 1, train_data_waiting: ['d3'], owner: 'org' });

    const more = await t.call('provider', 'POST', '/data', { uuid: ['d4', 'd5'], problems: ['p1'] });
    expect(more.body.new_learnuplets).toBe(1);

    let chain = await learnupletsOf('a1');
    expect(chain.map((l) => [l.rank, l.status, l.train_data, l.test_data])).toEqual([
      [0, 'todo', ['d1', 'd2'], ['t1', 't2']],
      [1, 'waiting', ['d3', 'd4'], ['t1', 't2']],
    ]);
    expect(chain[0].model_start).toBe('a1');
    expect((await t.call('reader', 'GET', '/problem/p1')).body.train_data_waiting).toEqual(['d5']);

    // Claim → pending, with a lease beside the seed's key.
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${chain[0].uuid}`, { worker: 'node-1' });
    expect(claim.status).toBe(200);
    expect(claim.body.learnuplet_worker_set).toBe(chain[0].uuid);
    expect(claim.body.learnuplet).toMatchObject({ status: 'pending', worker: 'node-1', attempt: 1 });
    expect(claim.body.lease.token).toMatch(/^1\./);
    expect((await t.call('compute2', 'POST', `/worker/learnuplet/${chain[0].uuid}`, { worker: 'node-2' })).status).toBe(409);

    const beat = await t.call('compute', 'POST', `/worker/learnuplet/${chain[0].uuid}/heartbeat`, { lease_token: claim.body.lease.token });
    expect(beat.status).toBe(200);

    const result = { status: 'done', perf: 0.7, train_perf: { d1: 0.8, d2: 0.9 }, test_perf: { t1: 0.6, t2: 0.8 }, lease_token: claim.body.lease.token };
    const done = await t.call('compute', 'POST', `/learndone/${chain[0].uuid}`, result);
    expect(done.status).toBe(200);
    expect(done.body.updated_learnuplet).toBe(chain[0].uuid);
    expect(done.body.learnuplet).toMatchObject({ status: 'done', perf: 0.7, test_perf: { t1: 0.6, t2: 0.8 } });
    // The identical report again is answered idempotently; a different one is refused.
    expect((await t.call('compute', 'POST', `/learndone/${chain[0].uuid}`, result)).status).toBe(200);
    expect((await t.call('compute', 'POST', `/learndone/${chain[0].uuid}`, { ...result, perf: 0.1 })).status).toBe(409);

    chain = await learnupletsOf('a1');
    expect(chain[1]).toMatchObject({ status: 'todo', model_start: chain[0].model_end });

    // Rank 1 is worse: the next rank (after more data) starts from rank 0's model.
    const c1 = await t.call('compute', 'POST', `/worker/learnuplet/${chain[1].uuid}`, { worker: 'node-1' });
    await t.call('compute', 'POST', `/learndone/${chain[1].uuid}`, {
      status: 'done',
      perf: 0.5,
      train_perf: { d3: 1, d4: 1 },
      test_perf: { t1: 0.5, t2: 0.5 },
      lease_token: c1.body.lease.token,
    });
    await t.call('provider', 'POST', '/data', { uuid: 'd6', problems: 'p1' });
    chain = await learnupletsOf('a1');
    expect(chain.map((l) => l.status)).toEqual(['done', 'done', 'todo']);
    expect(chain[2].model_start).toBe(chain[0].model_end);
    expect(chain[2].train_data).toEqual(['d5', 'd6']);

    // Leaderboard: best perf per algo with its model.
    const board = await t.call('reader', 'GET', '/problem/p1/leaderboard');
    expect(board.body.leaderboard[0]).toMatchObject({ algo: 'a1', best_perf: 0.7, model: chain[0].model_end, rank: 0 });

    // Prediction on the best model, of data its requester registered to no problem, then preddone.
    expect((await t.call('provider', 'POST', '/data', { uuid: ['x1', 'x2'], problems: [] })).status).toBe(201);
    const pred = await t.call('provider', 'POST', '/prediction', { data: ['x1', 'x2'], problem: 'p1' });
    expect(pred.status).toBe(201);
    expect(pred.body.new_preduplets).toBe(2);
    const preds = (await t.call('reader', 'GET', '/preduplet?problem=p1')).body.preduplets;
    expect(preds.map((p: any) => [p.data, p.model, p.algo, p.status, p.owner]).sort()).toEqual([
      ['x1', chain[0].model_end, 'a1', 'todo', 'provider-a'],
      ['x2', chain[0].model_end, 'a1', 'todo', 'provider-a'],
    ]);
    const pc = await t.call('compute', 'POST', `/worker/preduplet/${preds[0].uuid}`, { worker: 'node-1' });
    expect(pc.body.preduplet.status).toBe('pending');
    // The prediction is the blob this lease may write, and no other.
    const output = `prediction-${preds[0].uuid}-1`;
    const pd = await t.call('compute', 'POST', `/preddone/${preds[0].uuid}`, {
      status: 'done',
      prediction_storage_uuid: output,
      lease_token: pc.body.lease.token,
    });
    expect(pd.body.preduplet).toMatchObject({ status: 'done', prediction_storage_uuid: output });
  });

  test('list and get with filters and pagination', async () => {
    const page1 = await t.call('reader', 'GET', '/data?problems=p1&limit=3');
    expect(page1.status).toBe(200);
    expect(page1.body.datas).toHaveLength(3);
    expect(page1.body.next_offset).toBe(3);
    const all = await t.call('reader', 'GET', '/datas?problems=p1&limit=100');
    expect(all.body.datas).toHaveLength(8);
    expect(all.body.next_offset).toBeNull();
    expect((await t.call('reader', 'GET', '/learnuplet?status=done')).body.learnuplets).toHaveLength(2);
    expect((await t.call('reader', 'GET', '/algo/a1')).body).toMatchObject({ uuid: 'a1', name: 'logreg' });
    expect((await t.call('reader', 'GET', '/algo/nope')).status).toBe(404);
  });

  test('bad input is answered with the right status, names what is wrong, and writes nothing', async () => {
    // The earlier tests' settled leases are deleted in batches; not while this one counts.
    await t.orchestrator.leases.flushSettledLeases();
    const before = await countAll(t);
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['organizer', '/problem', { uuid: 'p1', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 }, 409, /already exists/],
      ['organizer', '/problem', { uuid: 'p2', workflow: 'wf', test_dataset: ['t'] }, 400, /size_train_dataset/],
      ['organizer', '/problem', { uuid: 'p2', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 'two' }, 400, /size_train_dataset/],
      ['organizer', '/problem', { uuid: 'p2', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 2, extra: 1 }, 400, /extra/],
      ['organizer', '/problem', { uuid: { $gt: '' }, workflow: 'wf', test_dataset: ['t'], size_train_dataset: 2 }, 400, /uuid/],
      ['organizer', '/problem', '{"uuid": "p2", ', 400, /JSON/],
      ['author', '/algo', { uuid: 'a2', name: 'x', problem: 'nope' }, 422, /problem nope does not exist/],
      ['author', '/algo', { uuid: '../etc', name: 'x', problem: 'p1' }, 400, /uuid/],
      ['provider2', '/data', { uuid: ['new', 'd1'], problems: 'p1' }, 403, /d1.*another provider/],
      ['provider', '/data', { uuid: 'new', problems: ['p1', 'nope'] }, 422, /nope/],
      ['provider', '/data', { uuid: ['a', 'a'], problems: 'p1' }, 400, /duplicate/],
      ['reader', '/prediction', { data: 'x', problem: 'nope' }, 422, /nope/],
      ['compute', '/worker/learnuplet/nope', { worker: 'n' }, 404, /does not exist/],
      ['compute', '/worker/spaceship/nope', { worker: 'n' }, 400, /kind/],
      ['compute', '/learndone/nope', { status: 'done' }, 400, /perf/],
    ];
    for (const [role, path, body, status, message] of cases) {
      const reply = await t.call(role as never, 'POST', path, body);
      expect({ path, body, status: reply.status }).toEqual({ path, body, status });
      expect(JSON.stringify(reply.body)).toMatch(message);
      expect(reply.body.error.code).toEqual(expect.any(String));
    }
    const operator = await t.call('reader', 'GET', '/learnuplet?status[$ne]=x');
    expect(operator.status).toBe(400);
    expect(JSON.stringify(operator.body)).toMatch(/status\[\$ne\]/);
    expect((await t.call('reader', 'GET', '/learnuplet?rank=abc')).status).toBe(400);
    expect(await countAll(t)).toEqual(before);
  });

  test('a problem with no trained model refuses predictions with the reason', async () => {
    await t.call('organizer', 'POST', '/problem', { uuid: 'p-empty', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 5 });
    const reply = await t.call('reader', 'POST', '/prediction', { data: ['x1'], problem: 'p-empty' });
    expect(reply.status).toBe(422);
    expect(reply.body.error.code).toBe('NO_TRAINED_MODEL');
  });

  test('authentication and roles: 401 without a valid key, 403 for the wrong role', async () => {
    expect((await t.call(null, 'GET', '/problem')).status).toBe(401);
    expect((await t.call('author', 'POST', '/problem', { uuid: 'z', workflow: 'w', test_dataset: ['t'], size_train_dataset: 1 })).status).toBe(403);
    expect((await t.call('organizer', 'POST', '/worker/learnuplet/x', { worker: 'n' })).status).toBe(403);
    expect((await t.call('provider', 'POST', '/learndone/x', { status: 'failed' })).status).toBe(403);
    const bearer = await fetch(`${t.url}/problem`, { headers: { authorization: 'Bearer reader-key-00000000000000' } });
    expect(bearer.status).toBe(200);
    expect((await fetch(`${t.url}/problem`, { headers: { 'x-api-key': 'wrong-key-0000000000000000' } })).status).toBe(401);
    expect((await t.call(null, 'GET', '/healthz')).status).toBe(200);
    expect((await t.call(null, 'GET', '/readyz')).body.status).toBe('ready');
    expect((await t.call(null, 'GET', '/metrics')).body).toMatch(/uplet_claims_total/);
  });
});

async function countAll(t: TestOrchestrator): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of ['problems', 'algos', 'datas', 'learnuplets', 'preduplets', 'minibatches', 'leases', 'settlements', 'memberships', 'train_log']) {
    out[name] = await t.database.db.collection(name).countDocuments();
  }
  return out;
}
