import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from '../../shared/logging/logger';
import { OutputTail } from '../sandbox/output-tail';
import { SANDBOX_GID, SANDBOX_UID, type SandboxLimits } from '../sandbox/sandbox-limits';
import type { SandboxCapabilities } from '../sandbox/sandbox-probe';
import { explain, spawnSandboxedProcess, type SandboxResult } from '../sandbox/sandboxed-command';
import { TaskStepFailed } from '../tasks/task-workspace';
import { ENGINE_SANDBOX, engineEnv } from './engine-command';
import type { EngineSettings } from './engine-settings';
import { RecentMap } from '../../shared/recent-map';

/** What a warm worker serves: one job's trials of one family on one dataset at one site, never anything else. */
export interface WarmKey {
  job: string;
  site: string;
  family: string;
  /** The dataset's blob uuid. */
  dataset: string;
}

export interface WarmPoolSettings {
  caps: SandboxCapabilities;
  limits: SandboxLimits;
  engine: EngineSettings;
  /** Where the workers' directories go (under the agent's work dir, 0700). */
  dir: string;
  /** Live workers at most (each holds the imported stack, up to the sandbox's memory limit). */
  maxWorkers: number;
  /** Spares kept started ahead of need (imported stack, no data, no key); 0: none. Not counted in maxWorkers. */
  spares?: number;
  /** An idle worker is killed after this long. */
  idleMs: number;
  logger: Logger;
}

/** Which worker ran a trial: recorded in the trial's result (`runner`). */
export interface WarmRunner {
  warm: true;
  /** The worker's id, fresh per worker process. */
  worker: string;
  /** The worker's request number: 1 for its first (which paid for the imports, unless a spare), 2 for the next… */
  trial: number;
  /** The worker was a spare: started ahead of need, its imports done before the trial came. */
  spare: boolean;
}

/**
 * A taken spare is replaced once no worker has been busy for this long: its imports (about 1 s of
 * CPU) then run in idle time, never beside a trial (measured: a concurrent import of the stack
 * slows a 0.87 s fit by 0.05-0.12 s, and in a one-job trainer run the last replacement was never
 * used). Longer than the gap between a slot's trials when work is queued (tens of ms), and than
 * an agent's wait at a round's end for the round's trials on other agents (up to a trial, or
 * another agent's fresh worker importing): at 0.5 s a 100-trial trainer run refilled mid-run.
 */
export const SPARE_REFILL_QUIET_MS = 2_000;

/** Ended jobs remembered (ids only), so a trial still running when its job ended does not leave an idle worker behind. */
const ENDED_JOBS_KEPT = 1024;
/** A worker serves this many trials at most, then a fresh one starts (bounds what a long-lived process may accumulate). */
const MAX_TRIALS_PER_WORKER = 256;
/** The worker's hard CPU limit, in trial allowances (SANDBOX_CPU_SECONDS each); it retires before a trial could lack its full allowance. */
const CPU_ALLOWANCES_PER_WORKER = 4;

interface Answer {
  id: string;
  status: 'done' | 'bad_input' | 'crashed';
  error?: { code?: string; message?: string; field?: string };
  cpu_used?: number;
}

/**
 * One sandboxed `uplet_training serve` process: see compute-agent/training/python/uplet_training/serve.py.
 * It is bound to one key (job, site, family, dataset) for life, before its first trial: a fresh
 * worker when it starts, a spare when a trial takes it. A spare until then holds no data, no key
 * and has run nothing but the imports: binding it is the same isolation as starting afresh.
 */
export class WarmWorker {
  readonly id = randomUUID();
  /** Set once, by bind. */
  private bound?: WarmKey;
  busy = true;
  served = 0;
  cpuUsed = 0;
  lastUsed = Date.now();
  alive = true;
  idleTimer?: NodeJS.Timeout;
  private readonly started = Date.now();
  private stderr: OutputTail;
  private pending?: (outcome: Answer | SandboxResult) => void;
  private exit?: SandboxResult;
  private timedOut = false;
  private aborted = false;
  /** Settles when the process has exited and its directory is removed. */
  readonly gone: Promise<void>;

  private constructor(
    readonly spare: boolean,
    private readonly dir: string,
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly settings: WarmPoolSettings,
  ) {
    this.stderr = new OutputTail(settings.limits.logBytes);
    child.stderr.on('data', (d: Buffer) => this.stderr.push(d));
    child.stdin.on('error', () => undefined); // a dead worker: its exit answers the pending trial
    child.on('error', (err) => this.stderr.push(Buffer.from(`\n[sandbox] could not start the warm worker: ${err.message}\n`)));
    const lines = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
    lines.on('line', (line) => this.onLine(line));
    this.gone = new Promise((resolve) => {
      child.on('close', (exitCode, signal) => {
        this.alive = false;
        this.killGroup('SIGKILL'); // anything left in its group
        child.stdin.destroy();
        clearTimeout(this.idleTimer);
        this.exit = {
          exitCode,
          signal,
          timedOut: this.timedOut,
          aborted: this.aborted,
          durationMs: Date.now() - this.started,
          stdoutTail: '',
          stderrTail: this.stderr.text(),
        };
        this.pending?.(this.exit);
        this.pending = undefined;
        void fs.promises.rm(dir, { recursive: true, force: true }).finally(resolve);
      });
    });
  }

  /** The key this worker serves for life (a spare has none until it is taken). */
  get key(): WarmKey {
    if (!this.bound) throw new Error('a spare warm worker has no key');
    return this.bound;
  }

  /** The process's id on the host (its group's leader: bubblewrap). */
  get pid(): number {
    return this.child.pid!;
  }

  /** Starts a worker for this key: a process (spawn), then the dataset (bind). */
  static async start(key: WarmKey, datasetFile: string, settings: WarmPoolSettings): Promise<WarmWorker> {
    const worker = await WarmWorker.spawn(settings, false);
    try {
      await worker.bind(key, datasetFile);
    } catch (err) {
      worker.kill();
      throw err;
    }
    return worker;
  }

  /**
   * Starts a process in its own sandbox with no data yet: the package read-only, an empty data
   * directory read-only at `/task/data` (bind puts the dataset there; a bind mount shows files
   * the host adds later), one writable directory (`/task/work`) where each trial gets a
   * subdirectory the agent makes. The Python imports the stack, then waits for its first request.
   */
  static async spawn(settings: WarmPoolSettings, spare: boolean): Promise<WarmWorker> {
    const dir = path.join(settings.dir, `worker-${randomUUID()}`);
    await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
    const data = path.join(dir, 'data');
    const work = path.join(dir, 'work');
    await fs.promises.mkdir(data, { mode: 0o755 });
    await fs.promises.mkdir(work, { mode: 0o755 });
    if (settings.caps.setpriv) await fs.promises.chown(work, SANDBOX_UID, SANDBOX_GID);
    const child = spawnSandboxedProcess(
      {
        argv: [settings.engine.python, '-B', '-m', 'uplet_training', 'serve', '--out', 'work'],
        cwd: '/task',
        mounts: [
          { hostPath: path.join(settings.engine.dir, 'uplet_training'), sandboxPath: '/task/uplet_training', writable: false },
          { hostPath: data, sandboxPath: '/task/data', writable: false },
          { hostPath: work, sandboxPath: '/task/work', writable: true },
        ],
        systemPaths: ENGINE_SANDBOX.systemPaths,
        env: engineEnv(settings.engine),
        limits: settings.limits,
      },
      settings.caps,
      settings.limits.cpuSeconds * CPU_ALLOWANCES_PER_WORKER,
    );
    return new WarmWorker(spare, dir, child, settings);
  }

  /** Gives the worker its key and dataset, once: from now on it serves that key's trials only. */
  async bind(key: WarmKey, datasetFile: string): Promise<void> {
    if (this.bound) throw new Error('a warm worker is bound once');
    if (!this.alive) throw new TaskStepFailed('engine trial', this.exit, 'engine trial: the warm worker had already exited');
    this.bound = key;
    await fs.promises.rename(datasetFile, path.join(this.dir, 'data', 'dataset.csv'));
  }

  /** Worth reusing: alive, and room left for a full trial's CPU allowance and trial count. */
  get reusable(): boolean {
    const { cpuSeconds } = this.settings.limits;
    return this.alive && this.served < MAX_TRIALS_PER_WORKER && this.cpuUsed + 1 + cpuSeconds <= cpuSeconds * CPU_ALLOWANCES_PER_WORKER;
  }

  /**
   * Runs one trial; resolves with the trial's output directory (on the host) when the worker
   * answers done. A timeout or an abort kills the worker; every failure is a TaskStepFailed
   * worded like a cold run's (bad input permanent, the rest retried).
   */
  async runTrial(spec: Record<string, unknown>, signal: AbortSignal): Promise<{ out: string; runner: WarmRunner }> {
    return this.run('trial', () => spec, signal);
  }

  /**
   * Runs one request of `command` (serve.py: `trial` or `final`). `inputs` (name → host file)
   * move into a directory of their own under the worker's read-only data directory, which the
   * spec names: `specFor(dir)` gets its path as the sandbox sees it (`data/<request>`).
   */
  async run(
    command: 'trial' | 'final',
    specFor: (inputDir: string) => Record<string, unknown>,
    signal: AbortSignal,
    inputs: Record<string, string> = {},
  ): Promise<{ out: string; runner: WarmRunner }> {
    const step = `engine ${command}`;
    const who = command === 'trial' ? 'the warm trial worker' : 'the warm worker';
    signal.throwIfAborted();
    if (!this.alive) throw new TaskStepFailed(step, this.exit, `${step}: the warm worker had already exited`);
    if (!this.bound) throw new Error('a spare warm worker runs nothing before it is bound');
    const number = ++this.served;
    const name = `${command}-${number}`;
    const out = path.join(this.dir, 'work', name);
    await fs.promises.mkdir(out, { mode: 0o755 });
    if (this.settings.caps.setpriv) await fs.promises.chown(out, SANDBOX_UID, SANDBOX_GID);
    if (Object.keys(inputs).length > 0) {
      const inDir = path.join(this.dir, 'data', name);
      await fs.promises.mkdir(inDir, { mode: 0o755 });
      for (const [file, hostPath] of Object.entries(inputs)) await fs.promises.rename(hostPath, path.join(inDir, file));
    }
    const spec = specFor(`data/${name}`);
    this.stderr = new OutputTail(this.settings.limits.logBytes); // this request's log tail only
    const outcome = await new Promise<Answer | SandboxResult>((resolve) => {
      this.pending = resolve;
      const timer = setTimeout(() => {
        this.timedOut = true;
        this.kill();
      }, this.settings.limits.wallClockMs);
      const onAbort = () => {
        this.aborted = true;
        this.kill();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending = (o) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(o);
      };
      if (this.exit) return this.pending(this.exit);
      this.child.stdin.write(`${JSON.stringify({ id: name, command, spec, out: name, cpu_seconds: this.settings.limits.cpuSeconds })}\n`);
    });
    this.lastUsed = Date.now();
    if ('exitCode' in outcome) {
      const why = explain(outcome, { argv: [who, `(${this.settings.engine.python} serve)`], limits: this.settings.limits });
      throw new TaskStepFailed(step, outcome, `${step}: ${why ?? 'the warm worker exited'}`);
    }
    if (typeof outcome.cpu_used === 'number') this.cpuUsed = outcome.cpu_used;
    const result = this.resultSoFar();
    if (outcome.status === 'bad_input') {
      const e = outcome.error;
      const reason = e ? `${e.code ?? 'invalid_input'}: ${e.message ?? ''}${e.field ? ` (field ${e.field})` : ''}` : `${step}: bad input`;
      throw new TaskStepFailed(step, result, reason, true);
    }
    if (outcome.status !== 'done') {
      // A crash: the worker exits (a retry starts in a fresh process); its traceback is the log tail.
      await Promise.race([this.gone, new Promise((r) => setTimeout(r, 2_000).unref())]);
      this.kill();
      throw new TaskStepFailed(step, this.resultSoFar(), `${step}: ${who} crashed (exit 1)`);
    }
    return { out, runner: { warm: true, worker: this.id, trial: number, spare: this.spare } };
  }

  /** Kills the worker's whole process group (bubblewrap, then everything in the sandbox). */
  kill(): void {
    this.killGroup('SIGKILL');
  }

  private resultSoFar(): SandboxResult {
    return { exitCode: null, signal: null, timedOut: false, aborted: false, durationMs: 0, stdoutTail: '', stderrTail: this.stderr.text() };
  }

  private killGroup(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, sig);
    } catch {
      /* already gone */
    }
  }

  private onLine(line: string): void {
    let answer: Answer | undefined;
    try {
      answer = JSON.parse(line) as Answer;
    } catch {
      answer = undefined;
    }
    if (!answer || typeof answer.status !== 'string' || !this.pending) {
      // Not the protocol: the worker is not trusted any more.
      this.stderr.push(Buffer.from(`\n[agent] unexpected line from the warm worker: ${line.slice(0, 200)}\n`));
      this.kill();
      return;
    }
    const pending = this.pending;
    this.pending = undefined;
    pending(answer);
  }
}

/** What `take` gives: a worker of that key, now busy, or the right to start one (on a spare if `spare`, unless that spare fails to start: then afresh). */
export type WarmTake = { worker: WarmWorker } | { spare: boolean; start(datasetFile: string): Promise<WarmWorker>; cancel(): void };

/**
 * The agent's warm trial workers: at most `maxWorkers` live, each serving one (job, site, family,
 * dataset) one trial at a time. A trial that finds no idle worker of its key starts one if there
 * is room (killing the least recently used idle worker of another key if needed), else runs cold.
 * Starting one takes a spare when there is one: a process started ahead of need (once the agent
 * meets training work, see warmUp, and again once the pool is quiet after one was taken, see
 * SPARE_REFILL_QUIET_MS) that has imported the stack and holds nothing else.
 * Spares are not counted in `maxWorkers`: they hold no data (about 125 MB resident each, the
 * stack only), their number is its own setting, and a taken spare counts like a started worker.
 */
export class WarmWorkerPool {
  private readonly workers = new Set<WarmWorker>();
  private readonly spares = new Set<WarmWorker>();
  private readonly spawning = new Set<Promise<unknown>>();
  /** Jobs known to be over (most recent last): a worker of one is retired when its trial ends. */
  private readonly endedJobs = new RecentMap<string, true>(ENDED_JOBS_KEPT);
  /** Takes waiting for a spare being spawned, first come first served. */
  private readonly spareWaiters: Array<(spare: WarmWorker | undefined) => void> = [];
  private starting = 0;
  private closed = false;
  private refillTimer?: NodeJS.Timeout;

  private warm = false;

  constructor(private readonly settings: WarmPoolSettings) {}

  /**
   * Starts the spares, once: when the agent first meets training work (an agent that only ever runs
   * uplets keeps no idle Python of ~125 MB). Later calls do nothing.
   */
  warmUp(): void {
    if (this.warm) return;
    this.warm = true;
    this.fillSpares();
  }

  /** An idle worker of this key, marked busy; or the right to start one; or undefined: run this trial cold. */
  take(key: WarmKey): WarmTake | undefined {
    if (this.closed) return undefined;
    this.warmUp();
    const idle = [...this.workers].filter((w) => !w.busy && w.alive);
    const mine = idle.find((w) => sameKey(w.key, key) && w.reusable);
    if (mine) {
      clearTimeout(mine.idleTimer);
      mine.busy = true;
      return { worker: mine };
    }
    if (this.workers.size + this.starting >= this.settings.maxWorkers) {
      const oldest = idle.sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!oldest) return undefined;
      this.retire(oldest, 'room for another job or family');
    }
    const ready = [...this.spares].find((w) => w.alive);
    if (ready) this.spares.delete(ready);
    // A spare still being spawned (the agent's first training task started it a moment ago) is
    // waited for rather than importing the stack twice at once, in it and in a fresh worker.
    const coming = !ready && this.spawning.size > this.spareWaiters.length ? new Promise<WarmWorker | undefined>((r) => this.spareWaiters.push(r)) : undefined;
    this.starting++;
    let settled = false;
    const settle = () => {
      if (!settled) this.starting--;
      settled = true;
    };
    return {
      spare: ready !== undefined || coming !== undefined,
      start: async (datasetFile) => {
        const spare = ready ?? (await coming);
        try {
          let worker: WarmWorker;
          if (spare?.alive) {
            await spare.bind(key, datasetFile).catch((err: unknown) => {
              spare.kill();
              throw err;
            });
            worker = spare;
          } else {
            spare?.kill();
            // close() resolved the awaited spare with nothing: no process may start after it.
            if (this.closed) throw new TaskStepFailed('engine trial', undefined, 'engine trial: the agent is shutting down');
            worker = await WarmWorker.start(key, datasetFile, this.settings);
          }
          this.workers.add(worker);
          void worker.gone.then(() => this.workers.delete(worker));
          if (this.closed) worker.kill();
          this.settings.logger.debug('warm trial worker started', { worker: worker.id, job: key.job, family: key.family, spare: worker.spare });
          return worker;
        } finally {
          settle();
          if (spare) this.refillWhenQuiet(); // its replacement imports once the pool is quiet
        }
      },
      cancel: () => {
        settle();
        // Never bound (the trial failed before its dataset came): still a spare, holding nothing.
        const giveBack = (spare: WarmWorker | undefined) => {
          if (spare?.alive && !this.closed) return this.addSpare(spare);
          spare?.kill(); // closed: close() has not seen it (it was neither a spare nor a worker then)
          if (spare && !this.closed) this.refillWhenQuiet();
        };
        if (ready) giveBack(ready);
        else if (coming) void coming.then(giveBack);
      },
    };
  }

  /**
   * For the job's final task: an idle worker of this job, site and dataset (its own family
   * first; any family serves a final), marked busy; else the right to bind a spare to this key;
   * else undefined: the final runs cold (a fresh worker would pay what a cold run pays).
   * The caller retires the job's workers when the final is over (retireJob).
   */
  takeForFinal(key: WarmKey): WarmTake | undefined {
    if (this.closed) return undefined;
    const ofJob = [...this.workers].filter(
      (w) => !w.busy && w.alive && w.reusable && w.key.job === key.job && w.key.site === key.site && w.key.dataset === key.dataset,
    );
    const worker = ofJob.find((w) => w.key.family === key.family) ?? ofJob[0];
    if (worker) {
      clearTimeout(worker.idleTimer);
      worker.busy = true;
      return { worker };
    }
    if (![...this.spares].some((w) => w.alive)) return undefined;
    return this.take(key);
  }

  /** The trial is over: the worker waits for the next trial of its key, or is retired. */
  release(worker: WarmWorker): void {
    worker.busy = false;
    this.refillWhenQuiet();
    if (this.closed || !worker.reusable) return this.retire(worker, 'worn out or dead');
    if (this.endedJobs.has(worker.key.job)) return this.retire(worker, 'job finished');
    worker.idleTimer = setTimeout(() => this.retire(worker, 'idle'), this.settings.idleMs);
    worker.idleTimer.unref();
  }

  /**
   * The job is over (its final task came here, or its end was announced): its idle workers go
   * now, busy ones when their trial ends, so none holds the job's dataset past the job.
   */
  retireJob(job: string): void {
    this.endedJobs.set(job, true);
    for (const w of this.workers) if (w.key.job === job && !w.busy) this.retire(w, 'job finished');
  }

  /** Live workers (for tests and logs). */
  list(): Array<{ id: string; pid: number; key: WarmKey; busy: boolean; served: number; spare: boolean }> {
    return [...this.workers].filter((w) => w.alive).map((w) => ({ id: w.id, pid: w.pid, key: w.key, busy: w.busy, served: w.served, spare: w.spare }));
  }

  /** Live spares, not yet taken (for tests and logs). */
  listSpares(): Array<{ id: string; pid: number }> {
    return [...this.spares].filter((w) => w.alive).map((w) => ({ id: w.id, pid: w.pid }));
  }

  /** Agent shutdown: every worker and spare killed, their directories removed. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    await Promise.all([...this.spawning]);
    const all = [...this.workers, ...this.spares];
    for (const w of all) w.kill();
    await Promise.all(all.map((w) => w.gone));
  }

  /** Spares are filled up once no worker has been busy or starting for SPARE_REFILL_QUIET_MS (each release looks again). */
  private refillWhenQuiet(): void {
    clearTimeout(this.refillTimer);
    const quiet = () => !this.closed && this.starting === 0 && ![...this.workers].some((w) => w.busy && w.alive);
    if (!quiet()) return;
    this.refillTimer = setTimeout(() => {
      if (quiet()) this.fillSpares();
    }, SPARE_REFILL_QUIET_MS);
    this.refillTimer.unref();
  }

  /**
   * Starts spares up to the setting. A spare that dies unasked (it never ran anything) is not
   * replaced at once, so a broken engine cannot make a respawn loop: the next take starts one.
   */
  private fillSpares(): void {
    const wanted = this.settings.spares ?? 0;
    while (!this.closed && this.spares.size + this.spawning.size < wanted) {
      const spawned: Promise<unknown> = WarmWorker.spawn(this.settings, true).then(
        (w) => {
          this.spawning.delete(spawned);
          const waiter = this.spareWaiters.shift();
          if (this.closed) {
            w.kill();
            waiter?.(undefined);
            return w.gone; // close() waits for it
          }
          if (waiter) return waiter(w);
          this.addSpare(w);
        },
        (err: Error) => {
          this.spawning.delete(spawned);
          this.spareWaiters.shift()?.(undefined); // it starts a fresh worker instead
          this.settings.logger.warn('could not start a spare warm worker', { error: err.message });
        },
      );
      this.spawning.add(spawned);
    }
  }

  /** A spare, kept until a take binds it; one that dies unasked leaves the set (and is not replaced at once, see fillSpares). */
  private addSpare(w: WarmWorker): void {
    this.spares.add(w);
    void w.gone.then(() => {
      if (this.spares.delete(w) && !this.closed) this.settings.logger.warn('a spare warm worker exited before it was used', { worker: w.id });
    });
  }

  private retire(worker: WarmWorker, why: string): void {
    clearTimeout(worker.idleTimer);
    this.workers.delete(worker); // its room is free now; its directory goes when it has exited
    this.settings.logger.debug('warm trial worker retired', { worker: worker.id, why, trials: worker.served });
    worker.kill();
  }
}

function sameKey(a: WarmKey, b: WarmKey): boolean {
  return a.job === b.job && a.site === b.site && a.family === b.family && a.dataset === b.dataset;
}
