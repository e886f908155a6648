import os from 'node:os';
import winston from 'winston';
import type { Learnuplet, OrchestratorClient } from '../../shared/http/orchestrator-client';
import type { StorageClient } from '../../shared/http/storage-client';
import { DEFAULT_LIMITS } from '../../compute-agent/sandbox/sandbox-limits';
import { runClaimedTask } from '../../compute-agent/work-runner';

// The task's own work is not under test here: a runner that is done at once.
jest.mock('../../compute-agent/task-runners', () => ({
  runnerOf: () => ({ run: async () => ({ status: 'done', perf: 0.5 }) }),
}));

/** When a task's slot frees (agent-service releases it on `computed`): after its work, before its report ends. */
describe('work runner: computed', () => {
  test('settles once the work is over, while the report is still on its way; done settles after the report', async () => {
    let answerReport!: () => void;
    const reports: string[] = [];
    const orchestrator = {
      heartbeat: async () => undefined,
      report: (_kind: string, _uuid: string, _token: string, report: { status: string }) => {
        reports.push(report.status);
        return new Promise<void>((resolve) => (answerReport = resolve));
      },
    } as unknown as OrchestratorClient;
    const storage = { withCapability: () => storage } as unknown as StorageClient;
    const task = runClaimedTask(
      {
        orchestrator,
        storage,
        caps: { bubblewrap: true, setpriv: true, prlimit: true, missing: [] },
        limits: DEFAULT_LIMITS,
        workDir: os.tmpdir(),
        heartbeatIntervalMs: 1_000,
        logger: winston.createLogger({ silent: true }),
      },
      'learnuplet',
      { uuid: 'l1', attempt: 1 } as Learnuplet,
      { token: '1.abcdefghijklmnopqrstuvwx', attempt: 1, expires_at: '', capability: 'c', writes: [] },
    );
    let done = false;
    void task.done.then(() => (done = true));
    await task.computed;
    await new Promise((r) => setTimeout(r, 20));
    expect(reports).toEqual(['done']);
    expect(done).toBe(false);
    answerReport();
    await task.done;
  });
});
