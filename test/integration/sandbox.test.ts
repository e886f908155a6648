import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSandboxed, type SandboxResult } from '../../compute-agent/sandbox/sandboxed-command';
import { probeSandbox, type SandboxCapabilities } from '../../compute-agent/sandbox/sandbox-probe';
import { DEFAULT_LIMITS, SANDBOX_UID, type SandboxLimits } from '../../compute-agent/sandbox/sandbox-limits';
import { TaskWorkspace } from '../../compute-agent/tasks/task-workspace';
import { sandboxOutputFile } from '../../compute-agent/sandbox/sandbox-output';
import { readJson } from '../../compute-agent/training/engine-command';

/**
 * Algos written to break out, each run in the real sandbox. Every script exits
 * 3 when its attempt was blocked, and prints ESCAPED if it got through, so a
 * test tells "contained" from "failed for another reason".
 */
describe('the sandbox contains hostile algos', () => {
  let caps: SandboxCapabilities;
  let root: string;
  let secretDir: string;
  const fakeKey = 'uplet-test-secret-key-0123456789';

  beforeAll(async () => {
    caps = await probeSandbox();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-sandbox-'));
    // World-readable on purpose: what keeps it out of reach is the mount namespace, not its mode.
    secretDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-secret-'));
    fs.chmodSync(secretDir, 0o755);
    fs.writeFileSync(path.join(secretDir, 'agent-config.json'), JSON.stringify({ AGENT_API_KEY: fakeKey }), { mode: 0o644 });
    process.env.UPLET_API_KEYS = JSON.stringify([{ name: 'x', key: fakeKey, roles: ['admin'] }]);
  });
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(secretDir, { recursive: true, force: true });
    delete process.env.UPLET_API_KEYS;
  });

  test('every isolation measure is available here (the agent refuses to run otherwise)', () => {
    expect(caps.missing).toEqual([]);
  });

  async function runScript(
    name: string,
    script: string,
    limits: Partial<SandboxLimits> = {},
    args: string[] = [],
  ): Promise<{ result: SandboxResult; out: string }> {
    const dir = path.join(root, name);
    fs.mkdirSync(path.join(dir, 'algo'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'algo', 'run'), `#!/usr/bin/env python3\n${script}`, { mode: 0o755 });
    fs.chownSync(path.join(dir, 'out'), SANDBOX_UID, SANDBOX_UID);
    const result = await runSandboxed(
      {
        argv: ['./run', ...args],
        cwd: '/task/algo',
        mounts: [
          { hostPath: path.join(dir, 'algo'), sandboxPath: '/task/algo', writable: false },
          { hostPath: path.join(dir, 'out'), sandboxPath: '/task/out', writable: true },
        ],
        limits: { ...DEFAULT_LIMITS, wallClockMs: 20_000, ...limits },
      },
      caps,
    );
    return { result, out: path.join(dir, 'out') };
  }

  const noSandboxProcessesLeft = () => {
    let out = '';
    try {
      out = execFileSync('pgrep', ['-u', String(SANDBOX_UID), '-a'], { encoding: 'utf8' });
    } catch {
      /* pgrep exits 1 when nothing matches */
    }
    // The hostile scripts here run as a bare `./run`; the other test files' tasks always have arguments.
    return out.split('\n').filter((l) => /python3 \.\/run$/.test(l.trim()));
  };
  /**
   * Processes take a moment to be reaped after their namespace dies: wait for the last one to go
   * (the event a leak would never produce) rather than a fixed time, and fail with what is left.
   */
  const untilNoSandboxProcessesLeft = async (timeoutMs = 10_000): Promise<string[]> => {
    const deadline = Date.now() + timeoutMs;
    let left = noSandboxProcessesLeft();
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      left = noSandboxProcessesLeft();
    }
    return left;
  };

  test('opening a network connection fails: no network in the sandbox', async () => {
    const { result } = await runScript(
      'net',
      `
import socket, sys
for host, port in [('127.0.0.1', 5672), ('127.0.0.1', 5432), ('10.0.0.1', 80)]:
    try:
        socket.create_connection((host, port), timeout=1)
        print('ESCAPED', host, port); sys.exit(0)
    except OSError as e:
        print('blocked', host, port, e)
sys.exit(3)
`,
    );
    expect(result.stdoutTail).not.toContain('ESCAPED');
    expect(result.exitCode).toBe(3);
    expect(result.reason).toMatch(/exited with code 3/);
  });

  test('reading outside its task directory fails: other data, the agent configuration, the host', async () => {
    const { result } = await runScript(
      'read',
      `
import sys
got = []
for p in sys.argv[1:] + ['/etc/passwd', '/root/.bashrc', '/proc/1/environ']:
    try:
        data = open(p).read()
        if 'uplet-test-secret' in data or p == '/etc/passwd':
            got.append(p)
    except OSError as e:
        print('blocked', p, e)
print('ESCAPED' if got else 'contained', got)
sys.exit(0 if got else 3)
`,
      {},
      [path.join(secretDir, 'agent-config.json')],
    );
    expect(result.stdoutTail).not.toContain('ESCAPED');
    expect(result.exitCode).toBe(3);
  });

  test('reading the environment finds no keys: it is cleared', async () => {
    const { result } = await runScript(
      'env',
      `
import os, sys
print(sorted(os.environ.keys()))
sys.exit(0)
`,
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdoutTail).not.toContain(fakeKey);
    expect(result.stdoutTail).not.toContain('UPLET');
    expect(result.stdoutTail.trim()).toMatch(/^\['HOME', 'LANG', 'PATH'(, 'PWD')?\]$/);
  });

  test('writing outside its output directory fails; its output directory works', async () => {
    const target = path.join(secretDir, 'planted');
    const { result, out } = await runScript(
      'write',
      `
import sys
escaped = []
for p in ['/task/algo/planted', sys.argv[1], '/usr/planted', '/planted']:
    try:
        open(p, 'w').write('x'); escaped.append(p)
    except OSError as e:
        print('blocked', p, e)
open('/task/out/result', 'w').write('ok')
print('ESCAPED' if escaped else 'contained', escaped)
sys.exit(0 if escaped else 3)
`,
      {},
      [target],
    );
    expect(result.exitCode).toBe(3);
    expect(fs.existsSync(target)).toBe(false);
    expect(fs.existsSync(path.join(root, 'write', 'algo', 'planted'))).toBe(false);
    expect(fs.readFileSync(path.join(out, 'result'), 'utf8')).toBe('ok');
  });

  test('a symlink left in its output directory (to a host secret) is refused by the agent, never read or uploaded', async () => {
    const secret = path.join(secretDir, 'agent-config.json');
    const { result, out } = await runScript(
      'symlink-out',
      `
import os, sys
os.symlink(sys.argv[1], '/task/out/model.pkl')
os.symlink(os.path.dirname(sys.argv[1]), '/task/out/linked')
open('/task/out/ok.json', 'w').write('{"ok": true}')
sys.exit(0)
`,
      {},
      [secret],
    );
    expect(result.exitCode).toBe(0);
    // On the host the link resolves to the secret: reading it as the agent would, unchecked, leaks it.
    expect(fs.readFileSync(path.join(out, 'model.pkl'), 'utf8')).toContain(fakeKey);
    await expect(sandboxOutputFile(path.join(out, 'model.pkl'), 'train')).rejects.toMatchObject({
      name: 'TaskStepFailed',
      permanent: true,
      message: expect.stringContaining('model.pkl is a symbolic link'),
    });
    await expect(sandboxOutputFile(path.join(out, 'linked', 'agent-config.json'), 'engine output')).rejects.toMatchObject({
      message: expect.stringContaining('in a symlinked directory'),
    });
    await expect(sandboxOutputFile(path.join(out, 'missing.json'), 'score')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readJson(path.join(out, 'ok.json'))).resolves.toEqual({ ok: true });
    await expect(readJson(path.join(out, 'model.pkl'))).rejects.toMatchObject({ name: 'TaskStepFailed' });
  });

  test('allocating past the memory limit fails with a memory reason', async () => {
    const { result } = await runScript(
      'memory',
      `
blocks = []
for i in range(64):
    blocks.append(bytearray(32 * 1024 * 1024))
print('ESCAPED allocated', len(blocks) * 32, 'MiB')
`,
      { memoryBytes: 256 * 1024 * 1024 },
    );
    expect(result.stdoutTail).not.toContain('ESCAPED');
    expect(result.exitCode).not.toBe(0);
    expect(result.reason).toMatch(/memory/);
  });

  test('forking without bound is stopped at the process limit, and nothing is left running', async () => {
    const { result } = await runScript(
      'forkbomb',
      `
import os, sys, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        children += 1
        if children > 500:
            print('ESCAPED', children); break
except OSError as e:
    print('blocked after', children, 'children:', e)
    sys.exit(3)
`,
      { maxProcesses: 32 },
    );
    expect(result.stdoutTail).not.toContain('ESCAPED');
    expect(result.exitCode).toBe(3);
    // The sleeping children die with the sandbox's PID namespace.
    expect(await untilNoSandboxProcessesLeft()).toEqual([]);
  });

  test('looping past the wall-clock limit: the whole process group is killed', async () => {
    const started = Date.now();
    const { result } = await runScript(
      'timeout',
      `
import os
if os.fork() == 0:
    while True: pass
while True: pass
`,
      { wallClockMs: 1_500 },
    );
    expect(result.timedOut).toBe(true);
    expect(result.reason).toMatch(/wall-clock limit/);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(await untilNoSandboxProcessesLeft()).toEqual([]);
  });

  test('burning CPU past its CPU limit is stopped', async () => {
    const { result } = await runScript('cpu', 'while True: pass\n', { cpuSeconds: 1, wallClockMs: 15_000 });
    expect(result.timedOut).toBe(false);
    expect(result.exitCode === 0 && result.signal === null).toBe(false);
    expect(result.reason).toMatch(/CPU limit|killed/);
  });

  test('the log is captured and capped', async () => {
    const { result } = await runScript(
      'log',
      `
import sys
for i in range(20000):
    sys.stderr.write('line %d of a long log\\n' % i)
sys.exit(1)
`,
      { logBytes: 4096 },
    );
    expect(result.stderrTail.length).toBeLessThan(4096 + 100);
    expect(result.stderrTail).toContain('line 19999 of a long log');
    expect(result.stderrTail).toMatch(/earlier bytes dropped/);
  });
});

/** SANDBOX_ALLOW_UNSAFE without bubblewrap: the same /task paths reach the task's files, still as nobody, still limited. */
describe('unsafe mode (no bubblewrap)', () => {
  test("a step runs with the compute contract's /task paths and writes only where it may", async () => {
    const caps: SandboxCapabilities = { bubblewrap: false, setpriv: true, prlimit: true, missing: ['bubblewrap (test)'] };
    // An ordinary parent (0755); the agent's own directories below it are made by the workspace.
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-unsafe-'));
    fs.chmodSync(workDir, 0o755);
    const ws = await TaskWorkspace.create(path.join(workDir, 'agent-work'), 'unsafe', {
      storage: undefined as never,
      archiveCache: path.join(workDir, 'archives'),
      caps,
      limits: { ...DEFAULT_LIMITS, wallClockMs: 20_000 },
      signal: new AbortController().signal,
    });
    try {
      const algo = await ws.outputDir('algo');
      fs.writeFileSync(path.join(algo, 'run'), '#!/bin/sh\nset -e\nread v < "$1"\necho "$v $(id -u)" > "$2"\n', { mode: 0o755 });
      const input = await ws.outputDir('in');
      fs.writeFileSync(path.join(input, 'x.txt'), 'hello\n', { mode: 0o644 });
      const out = await ws.outputDir('out');
      await ws.run('train', {
        argv: ['./run', '/task/in/x.txt', '/task/out/y.txt'],
        cwd: '/task/algo',
        mounts: [
          { hostPath: algo, sandboxPath: '/task/algo', writable: false },
          { hostPath: input, sandboxPath: '/task/in', writable: false },
          { hostPath: out, sandboxPath: '/task/out', writable: true },
        ],
      });
      expect(fs.readFileSync(path.join(out, 'y.txt'), 'utf8')).toBe(`hello ${SANDBOX_UID}\n`);
    } finally {
      await ws.remove();
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  });
});
