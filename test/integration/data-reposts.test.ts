import { startTestOrchestrator, type TestOrchestrator } from '../harness/orchestrator-fixture';

/**
 * POST /data re-posts (seed 002 via issue 13), honest batch outcomes under a
 * race (issue 15 item 4) and the list caps and unknown data of POST /prediction
 * (issue 15 item 7).
 */
describe('POST /data re-posts, races and POST /prediction refusals', () => {
  let t: TestOrchestrator;
  beforeAll(async () => void (t = await startTestOrchestrator('reposts')));
  afterAll(async () => t.cleanup());

  const counts = async () =>
    Object.fromEntries(
      await Promise.all(
        ['datas', 'memberships', 'train_log', 'minibatches', 'learnuplets', 'preduplets'].map(
          async (n) => [n, await t.database.db.collection(n).countDocuments()] as const,
        ),
      ),
    );

  test('re-posting a data uuid with new problems adds them (201), the same again is 200, another provider is 403', async () => {
    await t.call('organizer', 'POST', '/problem', { uuid: 'rp1', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
    await t.call('organizer', 'POST', '/problem', { uuid: 'rp2', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
    await t.call('author', 'POST', '/algo', { uuid: 'ra2', name: 'a', problem: 'rp2' });

    const first = await t.call('provider', 'POST', '/data', { uuid: 'rd', problems: 'rp1' });
    expect(first.status).toBe(201);
    expect(first.body.new_datas.map((d: any) => d.uuid)).toEqual(['rd']);

    const repost = await t.call('provider', 'POST', '/data', { uuid: ['rd', 'rd-new'], problems: ['rp1', 'rp2'] });
    expect(repost.status).toBe(201);
    // Only what this call created is listed; rd joined rp2 and, with rd-new, filled two minibatches of it.
    expect(repost.body.new_datas.map((d: any) => d.uuid)).toEqual(['rd-new']);
    expect(repost.body.new_learnuplets).toBe(2);
    expect((await t.call('reader', 'GET', '/data/rd')).body.problems.sort()).toEqual(['rp1', 'rp2']);
    const chain = (await t.call('reader', 'GET', '/learnuplet?problem=rp2')).body.learnuplets;
    expect(chain.map((l: any) => [l.rank, l.train_data, l.status])).toEqual([
      [0, ['rd'], 'todo'],
      [1, ['rd-new'], 'waiting'],
    ]);
    // rp1 got rd-new only: rd was in it already.
    expect((await t.call('reader', 'GET', '/problem/rp1')).body).toMatchObject({ minibatches: 2, train_data_waiting: [] });

    const same = await t.call('provider', 'POST', '/data', { uuid: ['rd', 'rd-new'], problems: ['rp2', 'rp1'] });
    expect(same.status).toBe(200);
    expect(same.body).toEqual({ new_datas: [], new_learnuplets: 0 });

    const before = await counts();
    const foreign = await t.call('provider2', 'POST', '/data', { uuid: ['other-new', 'rd'], problems: 'rp2' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toMatchObject({ code: 'FORBIDDEN', details: { where: 'body', field: 'uuid', uuids: ['rd'] } });
    expect(foreign.body.error.message).toMatch(/\brd\b/);
    expect(await counts()).toEqual(before);
    expect((await t.call('reader', 'GET', '/data/other-new')).status).toBe(404);
  });

  test('a batch racing a single post of one of its uuids: every written item is in its chains once, and the answers say what each created', async () => {
    for (let round = 0; round < 3; round++) {
      const problem = `race${round}`;
      await t.call('organizer', 'POST', '/problem', { uuid: problem, workflow: 'wf', test_dataset: ['t'], size_train_dataset: 10 });
      await t.call('author', 'POST', '/algo', { uuid: `${problem}-a`, name: 'a', problem });
      const batch = Array.from({ length: 201 }, (_, i) => `${problem}-d${i}`);
      const single = batch[100 + round]!;
      const [b, s] = await Promise.all([
        t.call('provider', 'POST', '/data', { uuid: batch, problems: problem }),
        t.call('provider', 'POST', '/data', { uuid: single, problems: problem }),
      ]);
      expect(b.status).toBe(201);
      expect([200, 201]).toContain(s.status);
      const created = [...b.body.new_datas, ...s.body.new_datas].map((d: any) => d.uuid).sort();
      // Each uuid was created by exactly one of the two calls.
      expect(created).toEqual([...batch].sort());
      expect(b.body.new_learnuplets + s.body.new_learnuplets).toBe(20);

      const minibatches = await t.database.db.collection('minibatches').find({ problem }).toArray();
      const batched = minibatches.flatMap((m) => m.train_data as string[]);
      expect(minibatches).toHaveLength(20);
      expect(new Set(batched).size).toBe(200);
      const state = (await t.call('reader', 'GET', `/problem/${problem}`)).body;
      expect(state.minibatches).toBe(20);
      expect(state.train_data_waiting).toHaveLength(1);
      // Nothing written is left out of the chains: batched ∪ waiting = every data item, once.
      expect([...batched, ...state.train_data_waiting].sort()).toEqual([...batch].sort());
      expect((await t.call('reader', 'GET', `/learnuplet?problem=${problem}&limit=100`)).body.learnuplets).toHaveLength(20);
    }
  });

  test('concurrent posts to one problem: each item takes one train log position, every minibatch is cut once', async () => {
    await t.call('organizer', 'POST', '/problem', { uuid: 'conc', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 10 });
    await t.call('author', 'POST', '/algo', { uuid: 'conc-a', name: 'a', problem: 'conc' });
    const posts = Array.from({ length: 8 }, (_, p) => Array.from({ length: 25 }, (_, i) => `conc-${p}-${i}`));
    const replies = await Promise.all(posts.map((uuid) => t.call('provider', 'POST', '/data', { uuid, problems: 'conc' })));
    expect(replies.map((r) => r.status)).toEqual(posts.map(() => 201));
    expect(replies.reduce((n, r) => n + r.body.new_learnuplets, 0)).toBe(20);
    const log = await t.database.db.collection('train_log').find({ problem: 'conc' }).toArray();
    expect(log.map((e) => e.pos).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(new Set(log.map((e) => e.data)).size).toBe(200);
    const minibatches = await t.database.db.collection('minibatches').find({ problem: 'conc' }).toArray();
    expect(minibatches).toHaveLength(20);
    expect(new Set(minibatches.flatMap((m) => m.train_data)).size).toBe(200);
    // Each post's items keep their order inside the log.
    for (const post of posts) {
      const positions = post.map((u) => log.find((e) => e.data === u)!.pos);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    }
    const chain = (await t.call('reader', 'GET', '/learnuplet?problem=conc&limit=100')).body.learnuplets;
    expect(chain.map((l: any) => l.status)).toEqual(['todo', ...Array(19).fill('waiting')]);
  });

  test('list caps: 10,000 data uuids per post, 1,000 per prediction (400 naming the field)', async () => {
    const before = await counts();
    const tooMany = await t.call('provider', 'POST', '/data', { uuid: Array.from({ length: 10_001 }, (_, i) => `cap${i}`), problems: 'rp1' });
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(tooMany.body)).toMatch(/uuid/);
    const tooManyPred = await t.call('reader', 'POST', '/prediction', { data: Array.from({ length: 1_001 }, (_, i) => `cap${i}`), problem: 'rp1' });
    expect(tooManyPred.status).toBe(400);
    expect(JSON.stringify(tooManyPred.body)).toMatch(/data/);
    expect(await counts()).toEqual(before);
  });

  test('a prediction on data that does not exist is 422 naming up to 20 of them, and writes nothing', async () => {
    // A problem with a trained model, so only the unknown data can be the reason.
    await t.call('organizer', 'POST', '/problem', { uuid: 'pp', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
    await t.call('provider', 'POST', '/data', { uuid: ['pp-d1', 'pp-x1'], problems: 'pp' });
    await t.call('author', 'POST', '/algo', { uuid: 'pp-a', name: 'a', problem: 'pp' });
    const [rank0] = (await t.call('reader', 'GET', '/learnuplet?problem=pp&rank=0')).body.learnuplets;
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${rank0.uuid}`, { worker: 'n' });
    await t.call('compute', 'POST', `/learndone/${rank0.uuid}`, {
      status: 'done',
      perf: 0.5,
      train_perf: {},
      test_perf: {},
      lease_token: claim.body.lease.token,
    });

    const before = await counts();
    const unknown = Array.from({ length: 30 }, (_, i) => `ghost${i}`);
    // Requested by the data's owner: predictions name only the requester's own data.
    const reply = await t.call('provider', 'POST', '/prediction', { data: ['pp-x1', ...unknown], problem: 'pp' });
    expect(reply.status).toBe(422);
    expect(reply.body.error).toMatchObject({ code: 'UNKNOWN_DATA', details: { where: 'body', field: 'data', count: 30 } });
    expect(reply.body.error.details.uuids).toEqual(unknown.slice(0, 20));
    expect(await counts()).toEqual(before);
    expect((await t.call('provider', 'POST', '/prediction', { data: ['pp-x1'], problem: 'pp' })).status).toBe(201);
  });
});
