import fs from 'node:fs';
import path from 'node:path';
import type { BlobKind, StorageClient } from '../../shared/http/storage-client';
import { runSandboxed, type SandboxedCommand, type SandboxResult } from '../sandbox/sandboxed-command';
import type { SandboxLimits } from '../sandbox/sandbox-limits';
import { SANDBOX_GID, SANDBOX_UID } from '../sandbox/sandbox-limits';
import type { SandboxCapabilities } from '../sandbox/sandbox-probe';
import type { EngineSettings } from '../training/engine-settings';
import type { WarmWorkerPool } from '../training/warm-workers';

/**
 * The agent's own directories are 0700; bubblewrap mounts what a step needs past them. Without
 * bubblewrap (unsafe mode) the dropped user reaches its files through the host's paths, so it
 * must be able to traverse (never list) the directories above them.
 */
export function privateDirMode(caps: SandboxCapabilities): number {
  return caps.bubblewrap ? 0o700 : 0o711;
}

/**
 * Promise.all for a task's concurrent fetches, except that it waits for every one to end before
 * it throws the first failure: none is left writing into a workspace the failed task removes.
 */
export async function allFetched<T extends readonly unknown[] | []>(values: T): Promise<{ -readonly [P in keyof T]: Awaited<T[P]> }> {
  const results = (await Promise.allSettled(values)) as PromiseSettledResult<unknown>[];
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [P in keyof T]: Awaited<T[P]> };
}

/** A sandboxed step that failed: the task reports it with the reason and the log tail. */
export class TaskStepFailed extends Error {
  /** `permanent`: deterministic bad input; reported so, the task fails at once instead of being retried. */
  constructor(
    readonly step: string,
    readonly result: SandboxResult | undefined,
    reason: string,
    readonly permanent = false,
  ) {
    super(reason);
    this.name = 'TaskStepFailed';
  }

  get logTail(): string {
    if (!this.result) return '';
    return [this.result.stderrTail && `stderr:\n${this.result.stderrTail}`, this.result.stdoutTail && `stdout:\n${this.result.stdoutTail}`]
      .filter(Boolean)
      .join('\n')
      .slice(-8_000);
  }
}

export interface WorkspaceContext {
  storage: StorageClient;
  /** Unpacked algo and workflow archives, kept across tasks (blobs never change under a uuid). */
  archiveCache: string;
  caps: SandboxCapabilities;
  limits: SandboxLimits;
  signal: AbortSignal;
  /** Where the training engine is (compute-agent/training/engine-settings.ts); absent: engine tasks fail. */
  engine?: EngineSettings;
  /** The agent's warm trial workers (compute-agent/training/warm-workers.ts); absent: every trial runs cold. */
  warmWorkers?: WarmWorkerPool;
  /** Hears the task's milestones (`inputs`: fetched; `computed`: the sandboxed work is over, only storing its outputs remains). */
  onMilestone?: (milestone: TaskMilestone) => void;
}

/** The points of a task a runner announces: where its time went (logged), and when its CPU work ends. */
export type TaskMilestone = 'inputs' | 'computed';

/**
 * A fresh directory per task attempt, readable only by the agent; what the
 * sandboxed steps write goes to directories handed to the sandbox user. Removed
 * whole when the task ends.
 */
export class TaskWorkspace {
  private constructor(
    readonly root: string,
    private readonly ctx: WorkspaceContext,
  ) {}

  get storage(): StorageClient {
    return this.ctx.storage;
  }

  get engine(): EngineSettings | undefined {
    return this.ctx.engine;
  }

  get warmWorkers(): WarmWorkerPool | undefined {
    return this.ctx.warmWorkers;
  }

  /** Aborted when the task must stop (lease lost, canceled, shutdown). */
  get signal(): AbortSignal {
    return this.ctx.signal;
  }

  /** The runner reached `milestone` (see TaskMilestone). */
  reached(milestone: TaskMilestone): void {
    this.ctx.onMilestone?.(milestone);
  }

  static async create(workDir: string, name: string, ctx: WorkspaceContext): Promise<TaskWorkspace> {
    const mode = privateDirMode(ctx.caps);
    await fs.promises.mkdir(workDir, { recursive: true, mode });
    const root = await fs.promises.mkdtemp(path.join(workDir, `${name}-`));
    await fs.promises.chmod(root, mode);
    return new TaskWorkspace(root, ctx);
  }

  path(...parts: string[]): string {
    return path.join(this.root, ...parts);
  }

  /** A directory the sandbox user may write (the only writable place of a step). */
  async outputDir(name: string): Promise<string> {
    const dir = this.path(name);
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o755 });
    if (this.ctx.caps.setpriv) await fs.promises.chown(dir, SANDBOX_UID, SANDBOX_GID);
    return dir;
  }

  /**
   * Downloads blobs into a directory, each file named by its uuid; digests are checked by the
   * client against those the gateway sends with each blob (one request per blob, no metadata read first).
   */
  async fetchInto(dir: string, kind: BlobKind, uuids: readonly string[]): Promise<void> {
    await fs.promises.mkdir(this.path(dir), { recursive: true, mode: 0o755 });
    for (const uuid of uuids) {
      this.ctx.signal.throwIfAborted();
      await this.ctx.storage.fetchToFile(kind, uuid, this.path(dir, uuid));
      await fs.promises.chmod(this.path(dir, uuid), 0o644);
    }
  }

  async fetchFile(name: string, kind: BlobKind, uuid: string): Promise<string> {
    const file = this.path(name);
    await this.ctx.storage.fetchToFile(kind, uuid, file);
    await fs.promises.chmod(file, 0o644);
    return file;
  }

  /**
   * The unpacked algo or workflow archive, from the agent's cache, or fetched,
   * checked and unpacked once: every task of a chain uses the same archives. The
   * cache entry appears by an atomic rename only when complete, and is only ever
   * mounted read-only into a sandbox afterwards.
   */
  async archive(kind: 'algo' | 'workflow', uuid: string): Promise<string> {
    const cached = path.join(this.ctx.archiveCache, `${kind}-${uuid}`);
    if (fs.existsSync(cached)) return cached;
    const unpacked = await this.unpack(await this.fetchFile(`${kind}.tar.gz`, kind, uuid), kind);
    await fs.promises.mkdir(this.ctx.archiveCache, { recursive: true, mode: privateDirMode(this.ctx.caps) });
    try {
      await fs.promises.rename(unpacked, cached);
    } catch (err) {
      // Another task of this agent cached it first: use that one.
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
    return cached;
  }

  /** Unpacks an archive inside the sandbox, as nobody, so a hostile archive can write nowhere else. */
  async unpack(archive: string, into: string): Promise<string> {
    const out = await this.outputDir(into);
    await this.run('unpack', {
      argv: ['tar', '-xzf', '/task/archive.tar.gz', '-C', '/task/out', '--no-same-owner', '--no-same-permissions', '--delay-directory-restore'],
      cwd: '/task',
      mounts: [
        { hostPath: archive, sandboxPath: '/task/archive.tar.gz', writable: false },
        { hostPath: out, sandboxPath: '/task/out', writable: true },
      ],
    });
    const run = path.join(out, 'run');
    const stat = await fs.promises.lstat(run).catch(() => undefined);
    if (!stat?.isFile()) throw new TaskStepFailed('unpack', undefined, `the archive ${path.basename(archive)} has no regular file named run at its root`);
    // tar drops permission bits it was not told to keep; the entry point must stay executable.
    if (!(stat.mode & 0o111)) await fs.promises.chmod(run, 0o755);
    return out;
  }

  /** Runs one step of the contract; a non-zero exit, a kill or a timeout is a TaskStepFailed. */
  async run(step: string, command: Omit<SandboxedCommand, 'limits' | 'signal'>): Promise<SandboxResult> {
    this.ctx.signal.throwIfAborted();
    const result = await runSandboxed({ ...command, limits: this.ctx.limits, signal: this.ctx.signal }, this.ctx.caps);
    if (result.reason) throw new TaskStepFailed(step, result, `${step}: ${result.reason}`);
    return result;
  }

  async remove(): Promise<void> {
    await fs.promises.rm(this.root, { recursive: true, force: true });
  }
}
