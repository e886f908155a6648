import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FaultCluster, figuresLine, type FaultFigures } from '../harness/fault-cluster';

/**
 * Faults injected into the real services, each running as its own process:
 * every scenario ends with every uplet terminal, none lost, none done twice.
 */
describe('fault suite', () => {
  const cluster = new FaultCluster('faults');
  const figures: string[] = [];

  beforeAll(async () => cluster.start(['agent-a', 'agent-b']), 120_000);
  afterAll(async () => {
    process.stderr.write(`${figures.join('\n')}\n`);
    fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
    fs.writeFileSync(path.join(__dirname, 'results', 'latest.txt'), `${new Date().toISOString()}\n${figures.join('\n')}\n`);
    await cluster.stop();
  }, 60_000);

  const pendingOf = async (problem: string, timeoutMs = 30_000, attempt = 1): Promise<{ uuid: string; worker: string; attempt: number }> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await cluster.call('reader', 'GET', `/learnuplet?problem=${problem}&status=pending`).catch(() => undefined);
      const p = r?.status === 200 ? (r.body.learnuplets as any[]).find((u) => u.attempt >= attempt) : undefined;
      if (p) return p;
      if (Date.now() > deadline) throw new Error(`no pending uplet of ${problem} within ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 100));
    }
  };
  const expectClean = (f: FaultFigures) => {
    expect({ lost: f.lost, duplicated: f.duplicated, doneWithoutReport: f.doneWithoutReport, modelsMissing: f.modelsMissing }).toEqual({
      lost: 0,
      duplicated: 0,
      doneWithoutReport: 0,
      modelsMissing: 0,
    });
  };

  test('kill -9 of a compute agent in the middle of a training: another agent re-runs it, done exactly once', async () => {
    await cluster.seedProblem('kill', 3, 2);
    const victim = await pendingOf('kill');
    await new Promise((r) => setTimeout(r, 700)); // inside the training
    await cluster.kill(cluster.agents.get(victim.worker));
    cluster.agents.delete(victim.worker);
    // Its sandboxed training died with it (bubblewrap --die-with-parent, PID namespace): within a
    // few seconds no process names the killed agent's work directory (exiting can wait on disk I/O
    // when the machine is loaded, so this is polled rather than read once after a fixed pause).
    const processesLeft = () => {
      try {
        return execFileSync('pgrep', ['-a', '-f', path.join(cluster.work, `agent-${victim.worker}`)], { encoding: 'utf8' });
      } catch {
        return ''; // pgrep exits 1 when nothing matches
      }
    };
    const deadline = Date.now() + 5_000;
    let left = processesLeft();
    while (left !== '' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = processesLeft();
    }
    expect(left).toBe('');
    const f = await cluster.settle('kill', 90_000);
    figures.push(figuresLine('agent kill -9', 1, f));
    expectClean(f);
    expect(f.statuses).toEqual(['done', 'done', 'done']);
    expect(f.expiries).toBeGreaterThanOrEqual(1);
    await cluster.startAgent(victim.worker);
  }, 120_000);

  test('a poison task that takes its agent down every time: failed after the last attempt, and the chain goes on', async () => {
    await cluster.seedProblem('poison', 2, 1.5);
    let faults = 0;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const p = await pendingOf('poison', 45_000, attempt);
      expect(p.attempt).toBe(attempt);
      await cluster.kill(cluster.agents.get(p.worker));
      faults++;
      await cluster.startAgent(p.worker);
    }
    const f = await cluster.settle('poison', 90_000);
    figures.push(figuresLine('poison task', faults, f));
    expectClean(f);
    expect(f.statuses).toEqual(['failed', 'done']);
    expect(f.reasons[0]).toBe('lease expired 3 times');
  }, 180_000);

  test('the broker closes every connection during a run: all services reconnect, nothing is lost or stuck', async () => {
    await cluster.seedProblem('broker', 3, 1);
    await pendingOf('broker');
    const closed = cluster.closeBrokerConnections();
    expect(closed).toBeGreaterThanOrEqual(3);
    await new Promise((r) => setTimeout(r, 1_500));
    const again = cluster.closeBrokerConnections();
    const f = await cluster.settle('broker', 90_000);
    figures.push(figuresLine('broker connections closed', closed + again, f));
    expectClean(f);
    expect(f.statuses).toEqual(['done', 'done', 'done']);
  }, 120_000);

  test('the database goes down during a run: the orchestrator answers 503, recovers, and finishes the work', async () => {
    await cluster.seedProblem('database', 3, 1);
    await pendingOf('database');
    await cluster.killDatabase();
    const whileDown = await cluster.call('reader', 'GET', '/learnuplet?problem=database');
    expect(whileDown.status).toBe(503);
    expect(whileDown.body.error.code).toBe('DEPENDENCY_UNAVAILABLE');
    const ready = await fetch(`${cluster.orchestratorUrl}/readyz`);
    expect(ready.status).toBe(503);
    await new Promise((r) => setTimeout(r, 2_000));
    await cluster.startDatabase();
    const f = await cluster.settle('database', 90_000);
    figures.push(figuresLine('database restarted', 1, f));
    expectClean(f);
    expect(f.statuses).toEqual(['done', 'done', 'done']);
  }, 150_000);

  test('the storage gateway is killed during transfers: no partial blob is visible, the agents retry, the work completes', async () => {
    await cluster.seedProblem('storage', 3, 0.3);
    let faults = 0;
    for (let i = 0; i < 3; i++) {
      await pendingOf('storage', 45_000).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 150 + i * 200));
      await cluster.kill(cluster.storage);
      faults++;
      await new Promise((r) => setTimeout(r, 800));
      await cluster.startStorage();
    }
    const f = await cluster.settle('storage', 120_000);
    figures.push(figuresLine('storage gateway killed', faults, f));
    expectClean(f);
    expect(f.statuses).toEqual(['done', 'done', 'done']);
    // Nothing half-written is left where blobs are committed.
    const tmp = path.join(cluster.work, 'blobs', 'tmp');
    expect(fs.existsSync(tmp) ? fs.readdirSync(tmp) : []).toEqual([]);
  }, 180_000);

  test('the orchestrator is killed while uplets are pending: after its restart leases and the sweeper bring everything to an end', async () => {
    await cluster.seedProblem('orch', 3, 1.5);
    await pendingOf('orch');
    await cluster.kill(cluster.orchestrator);
    await new Promise((r) => setTimeout(r, 2_000));
    await cluster.startOrchestrator();
    const f = await cluster.settle('orch', 120_000);
    figures.push(figuresLine('orchestrator kill -9', 1, f));
    expectClean(f);
    expect(f.statuses).toEqual(['done', 'done', 'done']);
  }, 180_000);
});
