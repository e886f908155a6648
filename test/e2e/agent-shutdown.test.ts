import { execFileSync } from 'node:child_process';
import { startTestAgent } from '../harness/agent-fixture';
import { postSlowChain } from '../harness/slow-chain';
import { startTestSystem, type TestSystem } from '../harness/system-fixture';

/** On shutdown the agent stops its sandboxed work and gives the lease back: the uplet is todo at once. */
describe('compute agent shutdown', () => {
  let sys: TestSystem;
  beforeAll(async () => void (sys = await startTestSystem('shutdown', { LEASE_SECONDS: '300' }, { agent: false })));
  afterAll(async () => sys?.cleanup());

  test('a task still running after the grace period is stopped and released, not left to its lease', async () => {
    const { o, s } = sys;
    await postSlowChain(sys, 'sp', 'bc-train-10', 'bc-test-1');

    const agent = await startTestAgent(o.url, s.url, o.prefix, { SHUTDOWN_GRACE_MS: '500' });
    try {
      const [uplet] = (await o.call('reader', 'GET', '/learnuplet?problem=sp')).body.learnuplets;
      const deadline = Date.now() + 20_000;
      while ((await o.call('reader', 'GET', `/learnuplet/${uplet.uuid}`)).body.status !== 'pending') {
        if (Date.now() > deadline) throw new Error('never claimed');
        await new Promise((r) => setTimeout(r, 100));
      }
      // The check below that the sandbox is gone proves nothing unless it was running: wait for it.
      await waitUntil(() => processesNaming(agent.workDir) !== '', 20_000, 'the sandboxed train never started');
      const closing = Date.now();
      await agent.agent.close();
      const closeSeconds = (Date.now() - closing) / 1000;
      const after = (await o.call('reader', 'GET', `/learnuplet/${uplet.uuid}`)).body;
      expect(after).toMatchObject({ status: 'todo', attempt: 1, worker: null });
      expect(await o.database.db.collection('settlements').findOne({ uplet: uplet.uuid })).toMatchObject({ by: 'release' });
      expect(closeSeconds).toBeLessThan(10);
      // The sandbox of this agent's task is gone: no process still names its work directory
      // (reaping may lag the close by a moment; a leak never ends, and fails with what is left).
      await waitUntil(() => processesNaming(agent.workDir) === '', 5_000, 'processes outlived the agent').catch(() => undefined);
      expect(processesNaming(agent.workDir)).toBe('');
    } finally {
      await agent.cleanup();
    }
  }, 60_000);
});

/** Every process whose command line names `text` (pgrep -a -f), or '' when there is none. */
function processesNaming(text: string): string {
  try {
    return execFileSync('pgrep', ['-a', '-f', text], { encoding: 'utf8' });
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(what);
    await new Promise((r) => setTimeout(r, 50));
  }
}
