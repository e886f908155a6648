import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { probeSandbox, type SandboxCapabilities } from '../../compute-agent/sandbox/sandbox-probe';
import { DEFAULT_LIMITS } from '../../compute-agent/sandbox/sandbox-limits';
import { SPARE_REFILL_QUIET_MS, WarmWorkerPool, type WarmKey, type WarmTake, type WarmWorker } from '../../compute-agent/training/warm-workers';
import { silentLogger } from '../../shared/logging/logger';
import { irisCsv } from '../harness/sklearn-tables';
import { waitFor } from '../harness/system-fixture';

const ENGINE_DIR = path.join(__dirname, '../../compute-agent/training/python');

/**
 * The warm pool's spares with real sandboxed `serve` processes (bubblewrap, as the agent runs
 * them): started with the pool, taken by a key with no worker, given their dataset after the
 * start, replaced, never rebound, killed at close.
 */
describe('warm worker pool: spares', () => {
  let caps: SandboxCapabilities;
  let root: string;
  let csv: string;
  let profile: unknown;
  const pools: WarmWorkerPool[] = [];

  beforeAll(async () => {
    caps = await probeSandbox();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-warm-pool-'));
    csv = path.join(root, 'iris.csv');
    irisCsv(csv);
    const out = path.join(root, 'profile');
    fs.writeFileSync(path.join(root, 'profile.json'), JSON.stringify({ dataset: csv }));
    execFileSync('/usr/bin/python3', ['-B', '-m', 'uplet_training', 'profile', '--spec', path.join(root, 'profile.json'), '--out', out], { cwd: ENGINE_DIR });
    profile = JSON.parse(fs.readFileSync(path.join(out, 'profile.json'), 'utf8'));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
    fs.rmSync(root, { recursive: true, force: true });
  });

  const newPool = (maxWorkers: number, spares: number) => {
    const dir = fs.mkdtempSync(path.join(root, 'pool-'));
    const pool = new WarmWorkerPool({
      caps,
      limits: DEFAULT_LIMITS,
      engine: { python: '/usr/bin/python3', dir: ENGINE_DIR, teacher: { batchRows: 1, timeoutMs: 1000, maxResponseBytes: 1000, retries: 0 } },
      dir,
      maxWorkers,
      spares,
      idleMs: 60_000,
      logger: silentLogger(),
    });
    pools.push(pool);
    pool.warmUp();
    return { pool, dir };
  };
  /** A copy of the dataset, as a trial's fetch leaves it (the pool moves it). */
  let copies = 0;
  const dataset = () => {
    const file = path.join(root, `fetched-${++copies}.csv`);
    fs.copyFileSync(csv, file);
    return file;
  };
  const key = (job: string): WarmKey => ({ job, site: 'default', family: 'decision_tree', dataset: 'iris' });
  const spec = {
    dataset: 'data/dataset.csv',
    profile: undefined as unknown,
    label_column: 'species',
    task_kind: 'classification',
    family: 'decision_tree',
    evaluation: { kind: 'holdout', train_fraction: 0.8 },
    seed: 3,
  };
  const aliveProcess = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const readProc = (pid: number, file: string) => fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  /** Every live process under `pid`, by the parent ids in /proc. */
  const descendants = (pid: number): number[] => {
    const parentOf = new Map<number, number>();
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        // The command name in parentheses may hold spaces: the parent id is the second field after it.
        parentOf.set(Number(entry), Number(readProc(Number(entry), 'stat').split(') ')[1]!.split(' ')[1]));
      } catch {
        /* gone meanwhile */
      }
    }
    const found: number[] = [];
    const walk = (parent: number) => {
      for (const [child, p] of parentOf) {
        if (p !== parent) continue;
        found.push(child);
        walk(child);
      }
    };
    walk(pid);
    return found;
  };
  const sparesOf = (pool: WarmWorkerPool, n: number) => waitFor(async () => (pool.listSpares().length === n ? pool.listSpares() : undefined), 20_000);
  const startOn = (taken: WarmTake | undefined): Promise<WarmWorker> => {
    if (!taken || 'worker' in taken) throw new Error(`expected the right to start a worker, got ${taken ? 'an idle worker' : 'nothing'}`);
    return taken.start(dataset());
  };

  test("a key's first trial runs on the spare started with the pool, its dataset added after the start; another spare replaces it", async () => {
    expect(caps.bubblewrap).toBe(true);
    const { pool } = newPool(2, 1);
    const [spare] = await sparesOf(pool, 1);
    // Let the spare finish its imports before the data exists: the dataset must be read at the first request, not at the start.
    await new Promise((r) => setTimeout(r, 3_000));
    const taken = pool.take(key('job-a'));
    expect(taken && 'spare' in taken && taken.spare).toBe(true);
    const worker = await startOn(taken);
    expect(worker.id).toBe(spare!.id);
    expect(worker.spare).toBe(true);
    const { out, runner } = await worker.runTrial({ ...spec, profile }, new AbortController().signal);
    expect(runner).toEqual({ warm: true, worker: spare!.id, trial: 1, spare: true });
    expect(JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8')).n_rows).toBe(120);
    pool.release(worker);
    const [next] = await sparesOf(pool, 1);
    expect(next!.id).not.toBe(spare!.id);
    expect(pool.list().map((w) => ({ id: w.id, job: w.key.job, spare: w.spare }))).toEqual([{ id: spare!.id, job: 'job-a', spare: true }]);
    // The same key again: its own worker, not the new spare.
    const again = pool.take(key('job-a'));
    expect(again && 'worker' in again && again.worker.id).toBe(spare!.id);
    pool.release((again as { worker: WarmWorker }).worker);
  }, 60_000);

  test('a take made while the spare is still being spawned waits for it: the stack is imported once, not in a fresh worker beside it', async () => {
    const { pool } = newPool(2, 1);
    // warmUp has only begun spawning the spare: none is ready yet.
    expect(pool.listSpares()).toEqual([]);
    const taken = pool.take(key('job-w'));
    if (!taken || 'worker' in taken) throw new Error('expected the right to start a worker');
    expect(taken.spare).toBe(true);
    const worker = await taken.start(dataset());
    expect(worker.spare).toBe(true);
    // The spare went to the take, not into the spares; nothing else was spawned while it was busy.
    expect(pool.listSpares()).toEqual([]);
    expect(pool.list().map((w) => w.id)).toEqual([worker.id]);
    const { runner } = await worker.runTrial({ ...spec, profile }, new AbortController().signal);
    expect(runner).toEqual({ warm: true, worker: worker.id, trial: 1, spare: true });
    pool.release(worker);
    // A take cancelled while its spare is still coming gives it back to the spares, unbound.
    const { pool: other } = newPool(2, 1);
    const cancelled = other.take(key('job-x'));
    if (!cancelled || 'worker' in cancelled) throw new Error('expected the right to start a worker');
    expect(cancelled.spare).toBe(true);
    cancelled.cancel();
    await sparesOf(other, 1);
    expect(other.list()).toEqual([]);
  }, 60_000);

  test('a worker runs its numeric libraries single-threaded: the engine sandbox sets their thread counts, and its Python holds one thread after a trial', async () => {
    const { pool } = newPool(1, 0);
    const worker = await startOn(pool.take(key('job-t')));
    await worker.runTrial({ ...spec, profile }, new AbortController().signal);
    // The Python under the worker's bubblewrap (setpriv and prlimit exec into it), found through /proc: the host's view of its PID namespace.
    const python = descendants(worker.pid).find((pid) => /^\/usr\/bin\/python3\0.*uplet_training\0serve/.test(readProc(pid, 'cmdline')));
    if (python === undefined) throw new Error(`no serve process under ${worker.pid}`);
    const environ = readProc(python, 'environ').split('\0');
    for (const name of ['OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS']) expect(environ).toContain(`${name}=1`);
    // OpenBLAS alone would have started a thread per further core at numpy's import (2 threads on 2 cores).
    expect(readProc(python, 'status')).toMatch(/^Threads:\s+1$/m);
    pool.release(worker);
  }, 60_000);

  test("a job's end retires its idle workers at once and a busy one when its trial ends; other jobs' stay", async () => {
    const { pool } = newPool(3, 0);
    const busy = await startOn(pool.take(key('job-r')));
    const idle = await startOn(pool.take(key('job-r')));
    const other = await startOn(pool.take(key('job-s')));
    pool.release(idle);
    pool.release(other);
    pool.retireJob('job-r');
    await idle.gone;
    expect(
      pool
        .list()
        .map((w) => w.id)
        .sort(),
    ).toEqual([busy.id, other.id].sort());
    // Its trial still runs to its end on the worker, which then goes instead of waiting for the idle timeout.
    const { runner } = await busy.runTrial({ ...spec, profile }, new AbortController().signal);
    expect(runner).toMatchObject({ warm: true, worker: busy.id, trial: 1 });
    pool.release(busy);
    await busy.gone;
    expect(aliveProcess(busy.pid)).toBe(false);
    expect(pool.list().map((w) => w.id)).toEqual([other.id]);
  }, 60_000);

  test('spares are outside the worker limit, a taken spare inside it, replaced only once the pool is quiet; a bound worker is retired, never rebound to another job', async () => {
    const { pool } = newPool(1, 1);
    const [spare] = await sparesOf(pool, 1);
    const a = await startOn(pool.take(key('job-a')));
    expect(a.id).toBe(spare!.id);
    // While A's worker is busy no replacement imports beside it, however long it runs.
    await new Promise((r) => setTimeout(r, SPARE_REFILL_QUIET_MS * 3));
    expect(pool.listSpares()).toEqual([]);
    // The limit is one: job B runs cold.
    expect(pool.take(key('job-b'))).toBeUndefined();
    pool.release(a);
    // The pool is quiet: the replacement starts. A's idle worker makes room: it is killed, and B gets the spare, not A's process.
    const [second] = await sparesOf(pool, 1);
    const b = await startOn(pool.take(key('job-b')));
    expect(b.id).toBe(second!.id);
    await a.gone;
    expect(aliveProcess(a.pid)).toBe(false);
    expect(pool.list().map((w) => [w.id, w.key.job])).toEqual([[b.id, 'job-b']]);
    pool.release(b);
  }, 60_000);

  test("a final goes to an idle worker of its job, else to a spare, its inputs in the request's own read-only directory", async () => {
    const { pool } = newPool(3, 1);
    await sparesOf(pool, 1);
    const trialWorker = await startOn(pool.take(key('job-e')));
    const trial = await trialWorker.runTrial({ ...spec, profile }, new AbortController().signal);
    const member = { pkl: path.join(root, 'member.pkl'), npy: path.join(root, 'member.npy') };
    fs.copyFileSync(path.join(trial.out, 'model.pkl'), member.pkl);
    fs.copyFileSync(path.join(trial.out, 'oof.npy'), member.npy);
    pool.release(trialWorker);
    // Another job with no worker here (its trials ran elsewhere): the spare.
    const [spare] = await sparesOf(pool, 1);
    const taken = pool.takeForFinal(key('job-f'));
    if (!taken || 'worker' in taken) throw new Error('expected the spare');
    expect(taken.spare).toBe(true);
    const finalWorker = await taken.start(dataset());
    expect(finalWorker.id).toBe(spare!.id);
    const { label_column, task_kind, evaluation: _e, family: _f, ...rest } = spec;
    const final = await finalWorker.run(
      'final',
      (dir) => ({ ...rest, profile, label_column, task_kind, ensemble: { members: [{ model: `${dir}/m.pkl`, oof: `${dir}/m.npy` }], steps: 3 } }),
      new AbortController().signal,
      { 'm.pkl': member.pkl, 'm.npy': member.npy },
    );
    expect(final.runner).toEqual({ warm: true, worker: spare!.id, trial: 1, spare: true });
    expect(JSON.parse(fs.readFileSync(path.join(final.out, 'report.json'), 'utf8')).model.kind).toBe('ensemble');
    pool.release(finalWorker);
    // The trials' job: its own idle worker, whatever the family asked.
    const own = pool.takeForFinal({ ...key('job-e'), family: 'random_forest' });
    expect(own && 'worker' in own && own.worker.id).toBe(trialWorker.id);
    pool.release(trialWorker);
  }, 90_000);

  test('a take cancelled before the dataset came gives the spare back unbound; close kills spares and workers and removes their directories', async () => {
    const { pool, dir } = newPool(2, 1);
    const [spare] = await sparesOf(pool, 1);
    const taken = pool.take(key('job-c'));
    if (!taken || 'worker' in taken) throw new Error('expected a start');
    expect(taken.spare).toBe(true);
    taken.cancel();
    const back = await waitFor(async () => pool.listSpares().find((s) => s.id === spare!.id), 20_000);
    expect(back).toBeDefined();
    const w = await startOn(pool.take(key('job-c')));
    expect(w.id).toBe(spare!.id);
    pool.release(w);
    const [replacement] = await sparesOf(pool, 1);
    const pids = [w.pid, replacement!.pid];
    await pool.close();
    expect(pids.map(aliveProcess)).toEqual([false, false]);
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(pool.take(key('job-d'))).toBeUndefined();
  }, 60_000);
});
