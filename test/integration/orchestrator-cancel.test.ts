import { startTestOrchestrator, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { todoLearnuplets, todoPreduplets } from '../harness/seed-scenarios';

/** Cancellation withdraws queued work, stops running work at its next heartbeat, and never counts an attempt twice. */
describe('cancellation', () => {
  let t: TestOrchestrator;
  // The background reaper and sweeper are parked: the races here are driven by the test.
  beforeAll(async () => void (t = await startTestOrchestrator('cancel', { REAPER_INTERVAL_MS: '3600000', SWEEP_INTERVAL_MS: '3600000' })));
  afterAll(async () => t.cleanup());

  const statusOf = async (uuid: string, kind = 'learnuplet') => (await t.call('reader', 'GET', `/${kind}/${uuid}`)).body.status;
  /** A cancellation's tombstone on the uplet's first attempt, as a canceller that died after claiming it leaves it. */
  const insertTombstone = (uuid: string, kind: string, cancel_reason?: string) =>
    t.database.db.collection('leases').insertOne({
      _id: `${uuid}/1`,
      uplet: uuid,
      kind,
      attempt: 1,
      token: '1.xxxxxxxxxxxxxxxxxxxxxxxx',
      worker: 'uplet:cancellation',
      principal: 'org',
      claimed_at: new Date(),
      expires_at: new Date('9999-12-31'),
      ...(cancel_reason ? { cancel_reason } : {}),
    } as never);

  test("an algo's remaining chain: queued ranks canceled, the running one stopped at its heartbeat, new data adds no rank", async () => {
    await t.call('organizer', 'POST', '/problem', { uuid: 'cp', workflow: 'wf', test_dataset: ['t1'], size_train_dataset: 1 });
    await t.call('provider', 'POST', '/data', { uuid: ['cp-d1', 'cp-d2', 'cp-d3'], problems: 'cp' });
    await t.call('author', 'POST', '/algo', { uuid: 'cp-a', name: 'a', problem: 'cp' });
    const chain = (await t.call('reader', 'GET', '/learnuplet?algo=cp-a')).body.learnuplets as Array<{ uuid: string; rank: number }>;
    expect(chain).toHaveLength(3);
    const rank0 = chain.find((l) => l.rank === 0)!.uuid;
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${rank0}`, { worker: 'node-1' });
    expect(claim.status).toBe(200);

    // Only the algo's author (or an admin) may cancel it.
    const refused = await t.call('reader', 'POST', '/algo/cp-a/cancel');
    expect(refused.status).toBe(403);
    expect((await t.call('reader', 'GET', `/learnuplet/${rank0}`)).body.status).toBe('pending');

    const canceled = await t.call('author', 'POST', '/algo/cp-a/cancel');
    expect(canceled.status).toBe(200);
    expect(canceled.body).toEqual({ canceled_learnuplets: 3, canceled_preduplets: 0 });
    for (const l of chain) expect(await statusOf(l.uuid)).toBe('canceled');

    const beat = await t.call('compute', 'POST', `/worker/learnuplet/${rank0}/heartbeat`, { lease_token: claim.body.lease.token });
    expect(beat.body.error.code).toBe('LEASE_LOST');
    const late = await t.call('compute', 'POST', `/learndone/${rank0}`, {
      status: 'done',
      perf: 1,
      train_perf: [1],
      test_perf: [1],
      lease_token: claim.body.lease.token,
    });
    expect(late.body.error.code).toBe('LEASE_SETTLED');
    const reclaim = await t.call('compute', 'POST', `/worker/learnuplet/${chain[1]!.uuid}`, { worker: 'node-1' });
    expect(reclaim.body.error.code).toBe('NOT_CLAIMABLE');

    expect((await t.call('provider', 'POST', '/data', { uuid: 'cp-d4', problems: 'cp' })).body.new_learnuplets).toBe(0);
    // Canceling again changes nothing.
    expect((await t.call('admin', 'POST', '/algo/cp-a/cancel')).body).toEqual({ canceled_learnuplets: 0, canceled_preduplets: 0 });
  });

  test('cancel racing a report: each attempt ends exactly once, as done or as canceled', async () => {
    const outcomes = { done: 0, canceled: 0 };
    for (let round = 0; round < 10; round++) {
      const [uuid] = await todoLearnuplets(t, `crace${round}`, 1);
      const claim = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-1' });
      const [report, cancel] = await Promise.all([
        t.call('compute', 'POST', `/learndone/${uuid}`, { status: 'done', perf: 0.5, train_perf: [1], test_perf: [1], lease_token: claim.body.lease.token }),
        t.call('author', 'POST', `/algo/crace${round}-a0/cancel`),
      ]);
      const status = await statusOf(uuid!);
      expect(['done', 'canceled']).toContain(status);
      // The loser of the settlement fence is told so; the winner's outcome stands.
      expect(report.status).toBe(status === 'done' ? 200 : 409);
      expect(cancel.body.canceled_learnuplets).toBe(status === 'done' ? 0 : 1);
      expect(await t.database.db.collection('settlements').countDocuments({ uplet: uuid })).toBe(1);
      outcomes[status as 'done' | 'canceled']++;
    }
    expect(outcomes.done + outcomes.canceled).toBe(10);
  });

  test('cancel racing claims: a todo uplet is either claimed then canceled, or never claimed', async () => {
    for (let round = 0; round < 8; round++) {
      const [uuid] = await todoPreduplets(t, `cclaim${round}`, 1);
      const [claim, cancel] = await Promise.all([
        t.call('compute', 'POST', `/worker/preduplet/${uuid}`, { worker: 'node-1' }),
        t.call('provider', 'POST', `/preduplet/${uuid}/cancel`), // its requester (todoPreduplets requests as the data's owner)
      ]);
      expect(cancel.body).toEqual({ canceled_learnuplets: 0, canceled_preduplets: 1 });
      expect(await statusOf(uuid!, 'preduplet')).toBe('canceled');
      if (claim.status === 200) {
        const beat = await t.call('compute', 'POST', `/worker/preduplet/${uuid}/heartbeat`, { lease_token: claim.body.lease.token });
        expect(beat.body.error.code).toBe('LEASE_LOST');
      } else {
        expect(claim.body.error.code).toMatch(/^(NOT_CLAIMABLE|ALREADY_CLAIMED)$/);
      }
      // Whatever happened, no agent's lease is left live on a canceled uplet: one still stored is
      // settled (it grants nothing) and goes with the next batch of deletions.
      const agentLeases = () =>
        t.database.db
          .collection<{ _id: string }>('leases')
          .find({ uplet: uuid, worker: { $ne: 'uplet:cancellation' } })
          .toArray();
      for (const lease of await agentLeases())
        expect(await t.database.db.collection<{ _id: string }>('settlements').findOne({ _id: lease._id })).not.toBeNull();
      await t.orchestrator.leases.flushSettledLeases();
      expect(await agentLeases()).toEqual([]);
    }
  });

  test('a problem: its queued work and predictions are withdrawn, and it takes no new algo or prediction', async () => {
    const preds = await todoPreduplets(t, 'cprob', 3);
    expect((await t.call('provider', 'POST', '/problem/cprob/cancel')).status).toBe(403);
    const res = await t.call('organizer', 'POST', '/problem/cprob/cancel');
    expect(res.body).toEqual({ canceled_learnuplets: 0, canceled_preduplets: 3 });
    for (const p of preds) expect(await statusOf(p, 'preduplet')).toBe('canceled');
    expect((await t.call('author', 'POST', '/algo', { uuid: 'cprob-b', name: 'b', problem: 'cprob' })).body.error.code).toBe('PROBLEM_CANCELED');
    expect((await t.call('reader', 'POST', '/prediction', { data: ['cprob-x0'], problem: 'cprob' })).body.error.code).toBe('PROBLEM_CANCELED');
    expect((await t.call('reader', 'POST', '/problem/nope/cancel')).status).toBe(404);
  });

  test('a cancellation that died after its settlement is finished by the next claim', async () => {
    const [uuid] = await todoLearnuplets(t, 'cdead', 1);
    // What a canceller leaves when it dies between the settlement and the uplet write.
    await insertTombstone(uuid!, 'learnuplet');
    await t.database.db.collection('settlements').insertOne({
      _id: `${uuid}/1`,
      uplet: uuid,
      kind: 'learnuplet',
      attempt: 1,
      by: 'cancel',
      status: 'canceled',
      result: null,
      settled_at: new Date(),
    } as never);
    expect(await statusOf(uuid!)).toBe('todo');
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-1' });
    expect(claim.body.error.code).toBe('NOT_CLAIMABLE');
    expect(await statusOf(uuid!)).toBe('canceled');
  });

  test('a cancellation that died between its tombstone and its settlement is finished by the next claim, with its reason', async () => {
    const [uuid] = await todoLearnuplets(t, 'ctomb', 1);
    // What a canceller leaves when it dies after claiming the next attempt and before settling it:
    // the tombstone refuses every claim of that attempt, and never expires.
    await insertTombstone(uuid!, 'learnuplet', 'withdrawn by its author');
    expect(await statusOf(uuid!)).toBe('todo');
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-1' });
    expect(claim.status).toBe(409);
    expect(claim.body.error).toMatchObject({ code: 'NOT_CLAIMABLE', details: { status: 'canceled' } });
    const uplet = (await t.call('reader', 'GET', `/learnuplet/${uuid}`)).body;
    expect(uplet).toMatchObject({ status: 'canceled', attempt: 1, failure_reason: 'withdrawn by its author' });
    const settlements = await t.database.db.collection('settlements').find({ uplet: uuid }).toArray();
    expect(settlements).toEqual([expect.objectContaining({ _id: `${uuid}/1`, by: 'cancel', status: 'canceled' })]);
    // Claiming again, or canceling again, changes nothing more.
    expect((await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-2' })).body.error.code).toBe('NOT_CLAIMABLE');
    expect((await t.call('admin', 'POST', '/algo/ctomb-a0/cancel')).body).toEqual({ canceled_learnuplets: 0, canceled_preduplets: 0 });
    expect(await t.database.db.collection('settlements').countDocuments({ uplet: uuid })).toBe(1);
  });

  test('an abandoned tombstone raced by a claim and a new cancellation: one settlement, canceled once, with one of their reasons', async () => {
    for (let round = 0; round < 6; round++) {
      const [uuid] = await todoPreduplets(t, `ctrace${round}`, 1);
      await insertTombstone(uuid!, 'preduplet', 'withdrawn earlier');
      const [claim, cancel] = await Promise.all([
        t.call('compute', 'POST', `/worker/preduplet/${uuid}`, { worker: 'node-1' }),
        t.call('provider', 'POST', `/preduplet/${uuid}/cancel`),
      ]);
      expect(claim.body.error.code).toBe('NOT_CLAIMABLE');
      // Counted by the cancellation when it finished the work itself or met the claim midway; not when the claim had finished it already.
      expect([0, 1]).toContain(cancel.body.canceled_preduplets);
      const uplet = (await t.call('reader', 'GET', `/preduplet/${uuid}`)).body;
      expect(uplet.status).toBe('canceled');
      expect(['withdrawn earlier', 'preduplet canceled by provider-a']).toContain(uplet.failure_reason);
      expect(await t.database.db.collection('settlements').countDocuments({ uplet: uuid })).toBe(1);
    }
  });

  test("an agent may not take the name of the orchestrator's own lease holders", async () => {
    const [uuid] = await todoPreduplets(t, 'cname', 1);
    for (const worker of ['uplet:cancellation', 'UPLET:anything']) {
      const claim = await t.call('compute', 'POST', `/worker/preduplet/${uuid}`, { worker });
      expect(claim.status).toBe(400);
      expect(claim.body.error.message).toMatch(/"worker" must not start with "uplet:"/);
    }
    expect(await t.database.db.collection('leases').countDocuments({ uplet: uuid })).toBe(0);
    expect(await statusOf(uuid!, 'preduplet')).toBe('todo');
  });
});
