import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import winston from 'winston';
import type { Learnuplet, OrchestratorClient } from '../../shared/http/orchestrator-client';
import type { StorageClient } from '../../shared/http/storage-client';
import { DEFAULT_LIMITS } from '../../compute-agent/sandbox/sandbox-limits';
import { runClaimedTask } from '../../compute-agent/work-runner';

/** The runner with its orchestrator and storage ports faked: only the runner's own control flow is under test. */
describe('work runner', () => {
  const silent = winston.createLogger({ silent: true });

  test('a task workspace that cannot be created is reported as failed, and the heartbeat stops', async () => {
    const calls: string[] = [];
    const orchestrator = {
      heartbeat: async () => void calls.push('heartbeat'),
      report: async (_kind: string, _uuid: string, _token: string, report: { status: string; reason?: string }) =>
        void calls.push(`learndone:${report.status}:${report.reason}`),
    } as unknown as OrchestratorClient;
    const storage = { withCapability: () => storage } as unknown as StorageClient;
    // A regular file where the work directory should be: creating the workspace fails.
    const notADir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-runner-')), 'work');
    fs.writeFileSync(notADir, 'not a directory');
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const uplet = {
        uuid: 'l1',
        problem: 'p',
        algo: 'a',
        workflow: 'w',
        rank: 0,
        train_data: [],
        test_data: [],
        model_start: 'a',
        model_end: 'm',
        attempt: 1,
      } as Learnuplet;
      const task = runClaimedTask(
        {
          orchestrator,
          storage,
          caps: { bubblewrap: true, setpriv: true, prlimit: true, missing: [] },
          limits: DEFAULT_LIMITS,
          workDir: notADir,
          heartbeatIntervalMs: 5,
          logger: silent,
        },
        'learnuplet',
        uplet,
        { token: '1.abcdefghijklmnopqrstuvwx', attempt: 1, expires_at: '', capability: 'c', writes: [] },
      );
      await expect(task.done).resolves.toBeUndefined();
      expect(calls.filter((c) => c.startsWith('learndone'))).toEqual([expect.stringMatching(/^learndone:failed:agent error: .*work/)]);
      // No heartbeat after the report: wait several intervals and count.
      const beatsAtReport = calls.filter((c) => c === 'heartbeat').length;
      await new Promise((r) => setTimeout(r, 50));
      expect(calls.filter((c) => c === 'heartbeat').length).toBe(beatsAtReport);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
