import { ProcessSpawner } from '../../compute-agent/sandbox/process-spawner';
import { runSandboxed, type SandboxResult } from '../../compute-agent/sandbox/sandboxed-command';
import { probeSandbox } from '../../compute-agent/sandbox/sandbox-probe';
import { DEFAULT_LIMITS } from '../../compute-agent/sandbox/sandbox-limits';

/** The agent's spawner process (compute-agent/sandbox/spawner.py): what it runs, what it keeps of the output, and its death. */
describe('process spawner', () => {
  const spawner = new ProcessSpawner();
  afterAll(() => spawner.close());
  const options = { cwd: '/', env: { PATH: '/usr/bin:/bin' }, tailBytes: 100 };

  test('runs a command as a session leader and reports its exit and output', async () => {
    const run = spawner.run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3'], options);
    const pid = await run.pid;
    expect(pid).toBeGreaterThan(1);
    const exit = await run.exit;
    expect(exit).toMatchObject({ exitCode: 3, signal: null, stdoutDropped: 0, stderrDropped: 0 });
    expect(exit.stdout.toString()).toBe('out\n');
    expect(exit.stderr.toString()).toBe('err\n');
  });

  test('keeps only the last tailBytes of each stream, and counts the rest', async () => {
    const exit = await spawner.run(['/bin/sh', '-c', 'head -c 10000 /dev/zero | tr "\\0" a; printf END'], options).exit;
    expect(exit.stdout.length).toBe(100);
    expect(exit.stdout.toString().endsWith('aEND')).toBe(true);
    expect(exit.stdoutDropped).toBe(9_903);
  });

  test('a command killed by a signal reports it; its group is its pid', async () => {
    const run = spawner.run(['/bin/sleep', '30'], options);
    process.kill(-(await run.pid), 'SIGTERM');
    expect(await run.exit).toMatchObject({ exitCode: null, signal: 'SIGTERM' });
  });

  test('a command that cannot start is refused with the reason', async () => {
    const run = spawner.run(['/nonexistent/program'], options);
    await expect(run.pid).rejects.toThrow(/No such file/);
    await expect(run.exit).rejects.toThrow(/No such file/);
  });

  test('a spawner that dies fails what it was running, and the next command starts a new one', async () => {
    const run = spawner.run(['/bin/sleep', '30'], options);
    const sleeper = await run.pid;
    const first = spawner.helperPid!;
    process.kill(first, 'SIGKILL');
    await expect(run.exit).rejects.toThrow(/the process spawner exited/);
    process.kill(-sleeper, 'SIGKILL'); // not sandboxed here: nothing ties it to the spawner
    const again = await spawner.run(['/bin/true'], options).exit;
    expect(again.exitCode).toBe(0);
    expect(spawner.helperPid).not.toBe(first);
  });
});

/** The spawner and the agent's own fork (where python3 is missing) run a sandboxed command alike. */
describe('sandboxed commands, through the spawner and forked by the agent', () => {
  test('the same exit, output tail, reason, and wall-clock kill', async () => {
    const caps = await probeSandbox();
    const limits = { ...DEFAULT_LIMITS, logBytes: 64, wallClockMs: 1_500 };
    const command = (script: string) => ({ argv: ['/bin/sh', '-c', script], cwd: '/task', mounts: [], limits });
    const spawner = new ProcessSpawner();
    try {
      for (const script of ['i=0; while [ $i -lt 50 ]; do echo line $i; i=$((i+1)); done; echo oops >&2; exit 3', 'sleep 30']) {
        const [viaSpawner, forked] = await Promise.all([runSandboxed(command(script), caps, spawner), runSandboxed(command(script), caps, undefined)]);
        const comparable = (r: SandboxResult) => ({
          exitCode: r.exitCode,
          signal: r.signal,
          timedOut: r.timedOut,
          stdout: r.stdoutTail,
          stderr: r.stderrTail,
          reason: r.reason,
        });
        expect(comparable(viaSpawner)).toEqual(comparable(forked));
      }
    } finally {
      spawner.close();
    }
  }, 30_000);
});
