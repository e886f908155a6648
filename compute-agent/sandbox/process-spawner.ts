import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

/** How a command started by the spawner ended, with the tails of its output. */
export interface SpawnedExit {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  stdoutDropped: number;
  stderrDropped: number;
}

export interface SpawnedCommand {
  /** Its pid, which is also its process group's (it leads a new session); rejects if it could not start. */
  pid: Promise<number>;
  /** Settles once it has exited and its output has ended. */
  exit: Promise<SpawnedExit>;
}

interface Pending {
  started(pid: number): void;
  failed(err: Error): void;
  exited(exit: SpawnedExit): void;
}

/** compute-agent/sandbox/spawner.py, from the sources or beside the compiled file. */
const SCRIPT = [path.join(__dirname, 'spawner.py'), path.join(__dirname, '../../../compute-agent/sandbox/spawner.py')].find((p) => fs.existsSync(p));
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => fs.existsSync(p));

/**
 * Starts commands through a small long-lived helper process (spawner.py) instead of forking the
 * agent: Node's spawn() blocks the event loop for a time that grows with the agent's memory
 * (18 ms at 151 MB), the helper's start answers in about a millisecond. One helper per agent
 * process, started at first use; if it dies, its running commands are reported failed (their
 * sandboxes die with it) and the next command starts a new one.
 */
export class ProcessSpawner {
  private helper: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** Whether this machine can run the helper (python3 and the script are there). */
  static available(): boolean {
    return SCRIPT !== undefined && PYTHON !== undefined;
  }

  run(argv: string[], options: { cwd: string; env: Record<string, string>; tailBytes: number }): SpawnedCommand {
    const id = this.nextId++;
    let started!: (pid: number) => void;
    let startFailed!: (err: Error) => void;
    let exited!: (exit: SpawnedExit) => void;
    let exitFailed!: (err: Error) => void;
    const pid = new Promise<number>((resolve, reject) => ((started = resolve), (startFailed = reject)));
    const exit = new Promise<SpawnedExit>((resolve, reject) => ((exited = resolve), (exitFailed = reject)));
    pid.catch(() => undefined); // the caller may await only `exit`
    const pending: Pending = { started, exited, failed: (err) => (startFailed(err), exitFailed(err)) };
    this.pending.set(id, pending);
    try {
      this.ensureHelper().stdin!.write(`${JSON.stringify({ id, argv, cwd: options.cwd, env: options.env, tail_bytes: options.tailBytes })}\n`);
    } catch (err) {
      this.pending.delete(id);
      pending.failed(err as Error);
    }
    return { pid, exit };
  }

  /** The helper's pid while one runs (diagnostics, tests). */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  /** Ends the helper (EOF: it kills what it still runs, then exits). */
  close(): void {
    this.helper?.stdin?.end();
    this.helper = undefined;
  }

  private ensureHelper(): ChildProcess {
    if (this.helper) return this.helper;
    if (!SCRIPT || !PYTHON) throw new Error('the process spawner needs python3');
    // -I -S: isolated, no site packages: a bare interpreter, a few MB, started in ~20 ms.
    const helper = spawn(PYTHON, ['-I', '-S', SCRIPT, String(process.pid)], { stdio: ['pipe', 'pipe', 'pipe'], env: {} });
    let stderr = '';
    helper.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2_000)));
    helper.stdin.on('error', () => undefined); // a dead helper: reported by 'exit' below
    readline.createInterface({ input: helper.stdout }).on('line', (line) => this.answer(line));
    helper.on('exit', (code, signal) => {
      if (this.helper === helper) this.helper = undefined;
      const err = new Error(`the process spawner exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim()}` : ''}`);
      for (const p of this.pending.values()) p.failed(err);
      this.pending.clear();
    });
    // The agent may exit with the helper still running: it ends at EOF or with its parent.
    helper.unref();
    (helper.stdin as unknown as { unref?: () => void }).unref?.();
    (helper.stdout as unknown as { unref?: () => void }).unref?.();
    (helper.stderr as unknown as { unref?: () => void }).unref?.();
    this.helper = helper;
    return helper;
  }

  private answer(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const id = message.id as number;
    const p = this.pending.get(id);
    if (!p) return;
    if (typeof message.error === 'string') {
      this.pending.delete(id);
      p.failed(new Error(message.error));
    } else if (typeof message.pid === 'number') {
      p.started(message.pid);
    } else {
      this.pending.delete(id);
      p.exited({
        exitCode: (message.exit_code as number | null) ?? null,
        signal: (message.signal as NodeJS.Signals | null) ?? null,
        stdout: Buffer.from((message.stdout as string) ?? '', 'base64'),
        stderr: Buffer.from((message.stderr as string) ?? '', 'base64'),
        stdoutDropped: (message.stdout_dropped as number) ?? 0,
        stderrDropped: (message.stderr_dropped as number) ?? 0,
      });
    }
  }
}

let shared: ProcessSpawner | undefined;

/** The agent process's spawner, or undefined where it cannot run (no python3): commands are then forked by Node. */
export function sharedSpawner(): ProcessSpawner | undefined {
  if (!ProcessSpawner.available()) return undefined;
  return (shared ??= new ProcessSpawner());
}
