import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ISOLATED_ROOT } from './isolated-root';
import { OutputTail } from './output-tail';
import { sharedSpawner, type ProcessSpawner } from './process-spawner';
import { SANDBOX_GID, SANDBOX_UID, type SandboxLimits } from './sandbox-limits';
import type { SandboxCapabilities } from './sandbox-probe';

export interface SandboxMount {
  hostPath: string;
  /** Absolute path inside the sandbox, under /task. */
  sandboxPath: string;
  writable: boolean;
}

export interface SandboxedCommand {
  /** The program and its arguments, as seen inside the sandbox. */
  argv: string[];
  /** Working directory inside the sandbox. */
  cwd: string;
  mounts: SandboxMount[];
  /**
   * Host system paths the command's runtime needs, bound read-only at the same path (e.g.
   * numpy's BLAS needs `/etc/alternatives` and `/etc/ld.so.cache`). Only under /etc or /usr;
   * every other protection stays. Without bubblewrap they are the host's anyway.
   */
  systemPaths?: readonly string[];
  /** Variables set beside PATH, HOME and LANG (the rest of the environment is cleared); names of [A-Z_][A-Z0-9_]*. */
  env?: Readonly<Record<string, string>>;
  limits: SandboxLimits;
  /** Aborting kills the whole process group (a lost lease, a shutdown). */
  signal?: AbortSignal;
}

export interface SandboxResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
  stdoutTail: string;
  stderrTail: string;
  /** Why it did not succeed, in words; undefined on success. */
  reason?: string;
}

const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * Runs one command of the compute contract. With bubblewrap: new network, PID,
 * IPC and UTS namespaces, a root holding only /usr (read-only), /proc, /dev, a
 * private /tmp and the task's own mounts; then setpriv drops to nobody with no
 * capabilities and no new privileges; then prlimit sets the rlimits. The
 * environment is cleared. Never throws for the command's own failure.
 */
export async function runSandboxed(
  command: SandboxedCommand,
  caps: SandboxCapabilities,
  spawner: ProcessSpawner | undefined = sharedSpawner(),
): Promise<SandboxResult> {
  if (caps.bubblewrap) return spawnSandboxed(command, caps, spawner);
  // Without bubblewrap (SANDBOX_ALLOW_UNSAFE) there is no mount namespace to put the task's
  // files at /task: a directory of links stands in for it, and /task paths are rewritten to it.
  const view = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'uplet-task-view-'));
  try {
    await fs.promises.chmod(view, 0o755);
    for (const m of command.mounts) {
      const at = inView(view, m.sandboxPath);
      await fs.promises.mkdir(path.dirname(at), { recursive: true, mode: 0o755 });
      await fs.promises.symlink(m.hostPath, at);
    }
    return await spawnSandboxed({ ...command, argv: command.argv.map((a) => inView(view, a)), cwd: inView(view, command.cwd) }, caps, spawner);
  } finally {
    await fs.promises.rm(view, { recursive: true, force: true });
  }
}

/** Maps `/task` and paths under it into the stand-in directory; leaves every other argument alone. */
function inView(view: string, arg: string): string {
  return arg === TASK_ROOT || arg.startsWith(`${TASK_ROOT}/`) ? path.join(view, arg.slice(TASK_ROOT.length)) : arg;
}

const TASK_ROOT = '/task';

/** Where and with what environment the command line starts: bubblewrap sets up the rest itself. */
function launchIn(command: SandboxedCommand, caps: SandboxCapabilities): { cwd: string; env: Record<string, string> } {
  return caps.bubblewrap ? { cwd: '/', env: {} } : { cwd: command.cwd, env: { ...checkedEnv(command.env), PATH: SANDBOX_PATH, HOME: '/tmp', LANG: 'C.UTF-8' } };
}

/** Through the spawner process when there is one; else forked by Node (blocking the event loop meanwhile). */
function spawnSandboxed(command: SandboxedCommand, caps: SandboxCapabilities, spawner: ProcessSpawner | undefined): Promise<SandboxResult> {
  const argv = buildArgv(command, caps);
  if (spawner) return runThroughSpawner(spawner, command, argv, caps);
  const started = Date.now();
  const stdout = new OutputTail(command.limits.logBytes);
  const stderr = new OutputTail(command.limits.logBytes);
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      ...launchIn(command, caps),
      detached: true, // its own process group, killed whole
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => stdout.push(d));
    child.stderr.on('data', (d: Buffer) => stderr.push(d));
    const group = superviseGroup(command);
    group.knowPid(child.pid);
    child.on('error', (err) => stderr.push(Buffer.from(`\n[sandbox] could not start: ${err.message}\n`)));
    child.on('close', (exitCode, signal) => {
      group.end();
      const result: SandboxResult = {
        exitCode,
        signal,
        timedOut: group.timedOut,
        aborted: group.aborted,
        durationMs: Date.now() - started,
        stdoutTail: stdout.text(),
        stderrTail: stderr.text(),
      };
      result.reason = explain(result, command);
      resolve(result);
    });
  });
}

/**
 * The wall-clock limit and the abort signal of a running command, carried out on its process group
 * (SIGTERM, then SIGKILL 2 s later); a stop asked before its pid is known is carried out once it is.
 * `end` (after it exited) clears the timer and kills anything left in the group.
 */
function superviseGroup(command: SandboxedCommand) {
  let pid: number | undefined;
  let stopAsked = false;
  const killGroup = (sig: NodeJS.Signals) => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      /* already gone */
    }
  };
  const stop = () => {
    stopAsked = true;
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), 2_000).unref();
  };
  const state = {
    timedOut: false,
    aborted: false,
    knowPid(p: number | undefined) {
      pid = p;
      if (stopAsked) stop();
    },
    end() {
      clearTimeout(timer);
      command.signal?.removeEventListener('abort', onAbort);
      killGroup('SIGKILL'); // anything left in the group
    },
  };
  const timer = setTimeout(() => {
    state.timedOut = true;
    stop();
  }, command.limits.wallClockMs);
  const onAbort = () => {
    state.aborted = true;
    stop();
  };
  command.signal?.addEventListener('abort', onAbort, { once: true });
  if (command.signal?.aborted) onAbort();
  return state;
}

/** The same command started by the agent's spawner process (see process-spawner.ts): the same limits, kills and result. */
async function runThroughSpawner(spawner: ProcessSpawner, command: SandboxedCommand, argv: string[], caps: SandboxCapabilities): Promise<SandboxResult> {
  const started = Date.now();
  const run = spawner.run(argv, { ...launchIn(command, caps), tailBytes: command.limits.logBytes });
  const group = superviseGroup(command);
  run.pid.then(
    (pid) => group.knowPid(pid),
    () => undefined,
  );
  const stdout = new OutputTail(command.limits.logBytes);
  const stderr = new OutputTail(command.limits.logBytes);
  let exitCode: number | null = null;
  let signal: NodeJS.Signals | null = null;
  let notRun: string | undefined;
  try {
    const exit = await run.exit;
    ({ exitCode, signal } = exit);
    stdout.push(exit.stdout);
    stdout.dropped += exit.stdoutDropped;
    stderr.push(exit.stderr);
    stderr.dropped += exit.stderrDropped;
  } catch (err) {
    notRun = (err as Error).message;
    stderr.push(Buffer.from(`\n[sandbox] could not start: ${notRun}\n`));
  } finally {
    group.end();
  }
  const { timedOut, aborted } = group;
  const result: SandboxResult = {
    exitCode,
    signal,
    timedOut,
    aborted,
    durationMs: Date.now() - started,
    stdoutTail: stdout.text(),
    stderrTail: stderr.text(),
  };
  result.reason = notRun === undefined || aborted || timedOut ? explain(result, command) : `${command.argv.slice(0, 2).join(' ')} could not be run: ${notRun}`;
  return result;
}

/**
 * Starts a long-lived sandboxed process with its stdin and stdout piped to the agent (the warm
 * trial worker): the same root, mounts, user and rlimits as runSandboxed, except that the CPU
 * limit is `cpuSeconds` soft and `cpuHardSeconds` hard, so the process can grant each of its
 * requests its own allowance. Needs bubblewrap. The caller owns its lifetime: kill its group.
 */
export function spawnSandboxedProcess(
  command: Omit<SandboxedCommand, 'signal'>,
  caps: SandboxCapabilities,
  cpuHardSeconds: number,
): ChildProcessWithoutNullStreams {
  if (!caps.bubblewrap) throw new Error('a long-lived sandboxed process needs bubblewrap');
  return spawn('bwrap', buildArgv(command, caps, cpuHardSeconds).slice(1), { cwd: '/', env: {}, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function explain(r: SandboxResult, command: Pick<SandboxedCommand, 'argv' | 'limits'>): string | undefined {
  const what = command.argv.slice(0, 2).join(' ');
  if (r.aborted) return `${what} was stopped (lease lost or agent shutting down)`;
  if (r.timedOut) return `${what} exceeded its wall-clock limit of ${Math.round(command.limits.wallClockMs / 1000)} s and was killed`;
  if (r.signal === 'SIGXCPU' || (r.signal === 'SIGKILL' && /CPU/i.test(r.stderrTail)))
    return `${what} exceeded its CPU limit of ${command.limits.cpuSeconds} s`;
  if (r.signal) return `${what} was killed by ${r.signal}`;
  // bwrap reports the child's death by signal as 128 + signal number.
  if (r.exitCode === 128 + 24 || (r.exitCode === 128 + 9 && /CPU/i.test(r.stderrTail)))
    return `${what} exceeded its CPU limit of ${command.limits.cpuSeconds} s`;
  if (r.exitCode === 128 + 25) return `${what} tried to write a file larger than ${command.limits.maxFileBytes} bytes`;
  if (r.exitCode !== null && r.exitCode > 128) return `${what} was killed by signal ${r.exitCode - 128}`;
  if (/MemoryError|Cannot allocate memory|out of memory|heap out of memory|ENOMEM/i.test(r.stderrTail))
    return `${what} ran out of memory (limit ${Math.round(command.limits.memoryBytes / 1024 ** 2)} MiB) and exited with code ${r.exitCode}`;
  if (r.exitCode !== 0) return `${what} exited with code ${r.exitCode}`;
  return undefined;
}

function buildArgv(command: Omit<SandboxedCommand, 'signal'>, caps: SandboxCapabilities, cpuHardSeconds?: number): string[] {
  const { limits } = command;
  const rlimits = [
    '/usr/bin/prlimit',
    cpuHardSeconds === undefined ? `--cpu=${limits.cpuSeconds}` : `--cpu=${limits.cpuSeconds}:${cpuHardSeconds}`,
    `--as=${limits.memoryBytes}`,
    `--nproc=${limits.maxProcesses}`,
    `--fsize=${limits.maxFileBytes}`,
    '--core=0',
    '--',
  ];
  const dropPrivileges = caps.setpriv
    ? ['/usr/bin/setpriv', `--reuid=${SANDBOX_UID}`, `--regid=${SANDBOX_GID}`, '--clear-groups', '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all']
    : [];
  const inner = [...dropPrivileges, ...(caps.prlimit ? rlimits : []), ...command.argv];
  if (!caps.bubblewrap) return inner;

  const bwrap = [
    'bwrap',
    ...ISOLATED_ROOT,
    // Mount points are created 0755, so the dropped user can walk to its mounts.
    '--perms',
    '0755',
    '--dir',
    '/task',
  ];
  const systemPaths = (command.systemPaths ?? []).map(checkedSystemPath);
  // Their parents (e.g. /etc) are made 0755, else bwrap creates them unreadable to the dropped user.
  for (const dir of new Set(systemPaths.map((p) => path.dirname(p)))) if (dir !== '/usr') bwrap.push('--perms', '0755', '--dir', dir);
  for (const p of systemPaths) bwrap.push('--ro-bind-try', p, p);
  for (const m of command.mounts) bwrap.push(m.writable ? '--bind' : '--ro-bind', m.hostPath, m.sandboxPath);
  bwrap.push('--chdir', command.cwd, '--clearenv', '--setenv', 'PATH', SANDBOX_PATH, '--setenv', 'HOME', '/tmp', '--setenv', 'LANG', 'C.UTF-8');
  for (const [name, value] of Object.entries(checkedEnv(command.env))) bwrap.push('--setenv', name, value);
  bwrap.push('--');
  return [...bwrap, ...inner];
}

/** The command's extra variables; a name that is not a plain variable name, or one of the three set here, is a programming error. */
function checkedEnv(env: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name) || ['PATH', 'HOME', 'LANG'].includes(name)) throw new Error(`sandbox variable ${name} refused`);
    checked[name] = value;
  }
  return checked;
}

/** A read-only system path: absolute, normalised, under /etc or /usr (never the task's, /proc, /dev or /tmp). */
export function checkedSystemPath(p: string): string {
  if (!path.isAbsolute(p) || path.normalize(p) !== p || !/^\/(etc|usr)\/[^/]/.test(p))
    throw new Error(`system path ${p} refused: only absolute, normalised paths under /etc or /usr`);
  return p;
}
