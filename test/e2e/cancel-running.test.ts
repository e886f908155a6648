import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startTestAgent } from '../harness/agent-fixture';
import { postSlowChain } from '../harness/slow-chain';
import { startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';

/** A canceled chain's running task is stopped by its agent at the next heartbeat; nothing is reported for it. */
describe('canceling running work', () => {
  let sys: TestSystem;
  beforeAll(async () => void (sys = await startTestSystem('cancelrun', { LEASE_SECONDS: '300' }, { agent: false })));
  afterAll(async () => sys?.cleanup());

  test('the sandboxed training stops within a heartbeat and the uplet stays canceled', async () => {
    const { o, s } = sys;
    await postSlowChain(sys, 'cr', 'bc-train-11', 'bc-test-2');

    const agent = await startTestAgent(o.url, s.url, o.prefix, { HEARTBEAT_INTERVAL_MS: '500' });
    try {
      const [uplet] = (await o.call('reader', 'GET', '/learnuplet?problem=cr')).body.learnuplets;
      await waitFor(async () => ((await o.call('reader', 'GET', `/learnuplet/${uplet.uuid}`)).body.status === 'pending' ? true : undefined), 20_000);
      // The task's own sandbox: its workspace is named after the uplet (a spare warm worker also names workDir).
      const taskSandbox = path.join(agent.workDir, `learnuplet-${uplet.uuid}-`);
      await waitFor(async () => (sandboxProcessesOf(taskSandbox) ? true : undefined), 20_000);

      expect((await o.call('author', 'POST', '/algo/slow/cancel')).body.canceled_learnuplets).toBe(1);
      await waitFor(async () => (agent.agent.running() === 0 ? true : undefined), 10_000);
      expect(sandboxProcessesOf(taskSandbox)).toBe('');
      expect((await o.call('reader', 'GET', `/learnuplet/${uplet.uuid}`)).body).toMatchObject({ status: 'canceled', attempt: 1 });
      const settlements = await o.database.db.collection('settlements').find({ uplet: uplet.uuid }).toArray();
      expect(settlements.map((x) => [x.by, x.status])).toEqual([['cancel', 'canceled']]);
    } finally {
      await agent.cleanup();
    }
  }, 60_000);
});

/** The processes whose command line names `workspace` (pgrep -a -f), or '' when there is none. */
function sandboxProcessesOf(workspace: string): string {
  try {
    return execFileSync('pgrep', ['-a', '-f', workspace], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // pgrep exits 1 when nothing matches
  }
}
