import { startTestOrchestrator, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { todoLearnuplets, todoPreduplets } from '../harness/seed-scenarios';
import { readState } from '../harness/test-servers-state';
import { reapExpiredLeases } from '../../orchestrator/periodic/lease-reaper';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('leases on the real database', () => {
  describe('expiry by the background reaper', () => {
    let t: TestOrchestrator;
    beforeAll(async () => void (t = await startTestOrchestrator('lease', { LEASE_SECONDS: '1', REAPER_INTERVAL_MS: '200', MAX_ATTEMPTS: '2' })));
    afterAll(async () => t.cleanup());

    test('a holder that never reports loses its lease; another worker finishes; the late report is refused', async () => {
      const [uuid] = await todoLearnuplets(t, 'pl', 1);
      const first = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-1' });
      expect(first.status).toBe(200);

      await waitFor(async () => (await t.call('reader', 'GET', `/learnuplet/${uuid}`)).body.status === 'todo');
      const back = (await t.call('reader', 'GET', `/learnuplet/${uuid}`)).body;
      expect(back).toMatchObject({ status: 'todo', attempt: 1, worker: null });
      expect(back.failure_reason).toMatch(/lease of attempt 1 expired/);
      // The lost holder's heartbeat tells it to stop.
      const beat = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}/heartbeat`, { lease_token: first.body.lease.token });
      expect(beat.body.error.code).toBe('LEASE_LOST');

      const second = await t.call('compute2', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-2' });
      expect(second.body.lease.attempt).toBe(2);
      const report = { status: 'done', perf: 0.9, train_perf: { 'pl-d1': 1 }, test_perf: { t1: 0.9 } };
      expect((await t.call('compute2', 'POST', `/learndone/${uuid}`, { ...report, lease_token: second.body.lease.token })).status).toBe(200);

      const late = await t.call('compute', 'POST', `/learndone/${uuid}`, { ...report, perf: 0.1, lease_token: first.body.lease.token });
      expect(late.status).toBe(409);
      expect(late.body.error.code).toBe('LEASE_SETTLED');
      expect((await t.call('reader', 'GET', `/learnuplet/${uuid}`)).body).toMatchObject({ status: 'done', perf: 0.9, worker: 'node-2', attempt: 2 });
    });

    test('after the last attempt the uplet fails with the reason, and its chain goes on', async () => {
      await t.call('organizer', 'POST', '/problem', { uuid: 'pf', workflow: 'wf', test_dataset: ['t1'], size_train_dataset: 1 });
      await t.call('provider', 'POST', '/data', { uuid: ['pf-d1', 'pf-d2'], problems: 'pf' });
      await t.call('author', 'POST', '/algo', { uuid: 'pf-a', name: 'a', problem: 'pf' });
      const [rank0, rank1] = (await t.call('reader', 'GET', '/learnuplet?problem=pf')).body.learnuplets;
      for (let attempt = 1; attempt <= 2; attempt++) {
        await waitFor(async () => (await t.call('reader', 'GET', `/learnuplet/${rank0.uuid}`)).body.status === 'todo');
        expect((await t.call('compute', 'POST', `/worker/learnuplet/${rank0.uuid}`, { worker: 'n' })).status).toBe(200);
      }
      await waitFor(async () => (await t.call('reader', 'GET', `/learnuplet/${rank0.uuid}`)).body.status === 'failed');
      expect((await t.call('reader', 'GET', `/learnuplet/${rank0.uuid}`)).body.failure_reason).toBe('lease expired 2 times');
      // The rank's failure is written before its chain advances (two writes): wait for the second.
      await waitFor(async () => (await t.call('reader', 'GET', `/learnuplet/${rank1.uuid}`)).body.status === 'todo');
      expect((await t.call('reader', 'GET', `/learnuplet/${rank1.uuid}`)).body).toMatchObject({ status: 'todo', model_start: 'pf-a' });
    });

    test('a released lease is todo again at once', async () => {
      const [uuid] = await todoLearnuplets(t, 'pr', 1);
      const claim = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-1' });
      const released = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}/release`, { lease_token: claim.body.lease.token });
      expect(released.body.learnuplet).toMatchObject({ status: 'todo', attempt: 1 });
      expect((await t.call('compute2', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-2' })).body.lease.attempt).toBe(2);
    });

    test('claims given back unrun use up no retry: after two releases, two expiries still go before it fails', async () => {
      const [uuid] = await todoLearnuplets(t, 'prr', 1);
      const status = async () => (await t.call('reader', 'GET', `/learnuplet/${uuid}`)).body.status;
      for (let i = 0; i < 2; i++) {
        const claim = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-1' });
        expect((await t.call('compute', 'POST', `/worker/learnuplet/${uuid}/release`, { lease_token: claim.body.lease.token })).status).toBe(200);
      }
      expect((await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-1' })).body.lease.attempt).toBe(3);
      await waitFor(async () => (await status()) === 'todo'); // expired once of MAX_ATTEMPTS 2: retried
      expect((await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'node-1' })).body.lease.attempt).toBe(4);
      await waitFor(async () => (await status()) === 'failed');
      expect((await t.call('reader', 'GET', `/learnuplet/${uuid}`)).body.failure_reason).toBe('lease expired 2 times');
    });
  });

  describe(`races on ${'the server under test'}`, () => {
    let t: TestOrchestrator;
    // The background reaper is parked so the report-versus-reaper race is driven by the test.
    beforeAll(async () => void (t = await startTestOrchestrator('race', { LEASE_SECONDS: '1', REAPER_INTERVAL_MS: '3600000', SWEEP_INTERVAL_MS: '3600000' })));
    afterAll(async () => t.cleanup());

    test('20 concurrent workers claim 200 todo uplets over HTTP: each is claimed exactly once', async () => {
      const uuids = await todoPreduplets(t, 'prace', 200);
      expect(uuids).toHaveLength(200);
      const wins = new Map<string, number>();
      await Promise.all(
        Array.from({ length: 20 }, async (_, w) => {
          const order = [...uuids].sort(() => Math.random() - 0.5);
          for (const uuid of order) {
            const reply = await t.call(w % 2 ? 'compute' : 'compute2', 'POST', `/worker/preduplet/${uuid}`, { worker: `w${w}` });
            if (reply.status === 200) wins.set(uuid, (wins.get(uuid) ?? 0) + 1);
            else expect(reply.status).toBe(409);
          }
        }),
      );
      expect(wins.size).toBe(200);
      expect([...wins.values()].every((n) => n === 1)).toBe(true);
      expect(await t.database.db.collection('leases').countDocuments({ uplet: { $in: uuids } })).toBe(200);
      process.stderr.write(`claim race on ${readState().serverDescription}: 200 uplets, 20 workers, ${[...wins.values()].reduce((a, b) => a + b, 0)} wins\n`);
    });

    test('20 concurrent /learndone calls for one uplet record one result', async () => {
      const [uuid] = await todoLearnuplets(t, 'pdone', 1);
      const claim = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'n' });
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          t.call('compute', 'POST', `/learndone/${uuid}`, {
            status: 'done',
            perf: i / 100,
            train_perf: {},
            test_perf: {},
            lease_token: claim.body.lease.token,
          }),
        ),
      );
      const ok = replies.filter((r) => r.status === 200);
      expect(ok).toHaveLength(1);
      expect(replies.filter((r) => r.status === 409)).toHaveLength(19);
      expect(await t.database.db.collection('settlements').countDocuments({ uplet: uuid })).toBe(1);
      expect((await t.call('reader', 'GET', `/learnuplet/${uuid}`)).body.perf).toBe(ok[0]!.body.learnuplet.perf);
    });

    test('a report racing the reaper on an expiring lease ends in exactly one of the two outcomes', async () => {
      const uuids = await todoLearnuplets(t, 'preap', 10);
      const reportedOk = new Set<string>();
      for (const uuid of uuids) {
        const claim = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}`, { worker: 'n' });
        // The race is only a race once the lease is due: wait for its expiry instant.
        await sleep(Math.max(0, new Date(claim.body.lease.expires_at).getTime() - Date.now()) + 5);
        const [report] = await Promise.all([
          t.call('compute', 'POST', `/learndone/${uuid}`, { status: 'done', perf: 1, train_perf: {}, test_perf: {}, lease_token: claim.body.lease.token }),
          reapExpiredLeases(t.orchestrator.collections, t.orchestrator.leases),
        ]);
        if (report.status === 200) reportedOk.add(uuid);
        else expect(report.body.error.code).toMatch(/^(LEASE_LOST|LEASE_SETTLED)$/);

        // Exactly one settlement, of the one attempt claimed, and the uplet agrees with it.
        const settlements = await t.database.db.collection('settlements').find({ uplet: uuid }).toArray();
        expect(settlements.map((s) => ({ attempt: s.attempt, by: s.by }))).toEqual([{ attempt: 1, by: report.status === 200 ? 'report' : 'expiry' }]);
        const doc = (await t.call('reader', 'GET', `/learnuplet/${uuid}`)).body;
        if (settlements[0]!.by === 'report') {
          expect(settlements[0]!.status).toBe('done');
          expect(doc).toMatchObject({ status: 'done', perf: 1, attempt: 1 });
        } else {
          expect(settlements[0]!.status).toBe('expired');
          expect(doc).toMatchObject({ status: 'todo', perf: null, attempt: 1 });
          expect(doc.failure_reason).toMatch(/lease of attempt 1 expired/);
        }
      }
      // Read back independently of the answers: the uplets the reaper settled are exactly those
      // whose report was refused, so no attempt was both reported ok and expired, and none was lost.
      const expired = new Set(
        (
          await t.database.db
            .collection('settlements')
            .find({ uplet: { $in: uuids }, by: 'expiry' })
            .toArray()
        ).map((s) => s.uplet as string),
      );
      expect([...expired].filter((u) => reportedOk.has(u))).toEqual([]);
      expect([...expired, ...reportedOk].sort()).toEqual([...uuids].sort());
      const outcomes = { report: reportedOk.size, expiry: expired.size };
      process.stderr.write(`report vs reaper: ${JSON.stringify(outcomes)}\n`);
    });
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}
