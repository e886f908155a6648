import fs from 'node:fs';
import path from 'node:path';
import { StorageRequestError } from '../../shared/http/storage-client';
import type { BlobKind } from '../../shared/http/storage-client';
import { TaskStepFailed, type TaskWorkspace } from '../tasks/task-workspace';
import { sandboxOutputFile } from '../sandbox/sandbox-output';
import type { EngineSettings } from './engine-settings';

/**
 * How every engine process is sandboxed, beyond its mounts. systemPaths: what numpy's BLAS needs
 * to load (measured: `libblas.so.3: cannot open shared object file` without them). env: the
 * numeric libraries run single-threaded, as the estimators do (n_jobs=1; the agent's slots are the
 * parallelism). Left alone, OpenBLAS, OpenMP and numexpr start a thread per core in every engine
 * process: on a many-core host those threads, all of the sandbox user, reach SANDBOX_MAX_PROCESSES
 * (measured: numpy's import then fails, `OpenBLAS blas_thread_init: pthread_create failed`), slots
 * oversubscribe the cores, and a model's last bits could depend on the host's core count.
 */
export const ENGINE_SANDBOX = {
  systemPaths: ['/etc/alternatives', '/etc/ld.so.cache'],
  env: { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', NUMEXPR_NUM_THREADS: '1' },
} as const;

/**
 * The environment of an engine process on this node: ENGINE_SANDBOX's, and OpenBLAS's core type
 * when the operator pins it. OpenBLAS picks its kernels by the CPU, and kernels of two core types
 * can end a fit in other last bits (measured: a logistic regression stopping at its tolerance
 * scored 0.9494 with Haswell's kernels and 0.9516 with those detected on an AMD EPYC); agents on
 * different CPUs serving one job then make its results depend on which agent ran which trial.
 * The same TRAINING_BLAS_CORETYPE on every agent of a deployment makes them agree.
 */
export function engineEnv(engine: Pick<EngineSettings, 'blasCoreType'>): Record<string, string> {
  return { ...ENGINE_SANDBOX.env, ...(engine.blasCoreType ? { OPENBLAS_CORETYPE: engine.blasCoreType } : {}) };
}

export type EngineCommand = 'profile' | 'trial' | 'final' | 'predict' | 'synthetic' | 'teach';

/**
 * Runs one command of the Python engine in the sandbox:
 * `cd /task && python3 -B -m uplet_training <command> --spec spec.json --out out`, with the
 * package at /task/uplet_training, the spec and inputs under /task (read-only), one writable
 * /task/out. Paths in the spec are relative to /task, so they hold with and without bubblewrap.
 * Exit 2 is bad input (out/error.json): a permanent failure, never retried. Returns the out dir.
 */
export async function runEngine(ws: TaskWorkspace, command: EngineCommand, spec: Record<string, unknown>, inputs: Record<string, string>): Promise<string> {
  const engine = ws.engine;
  if (!engine) throw new Error('this agent has no training engine configured (TRAINING_ENGINE_DIR)');
  const specFile = ws.path('spec.json');
  await fs.promises.writeFile(specFile, JSON.stringify(spec), { mode: 0o644 });
  const out = await ws.outputDir('engine-out');
  // Inputs move into one directory mounted whole: a mount point bwrap creates for a single file's parent is not traversable by the sandbox user.
  const inDir = ws.path('engine-in');
  await fs.promises.mkdir(inDir, { recursive: true, mode: 0o755 });
  for (const [name, hostPath] of Object.entries(inputs)) await fs.promises.rename(hostPath, path.join(inDir, name));
  const mounts = [
    { hostPath: path.join(engine.dir, 'uplet_training'), sandboxPath: '/task/uplet_training', writable: false },
    { hostPath: specFile, sandboxPath: '/task/spec.json', writable: false },
    { hostPath: inDir, sandboxPath: '/task/data', writable: false },
    { hostPath: out, sandboxPath: '/task/out', writable: true },
  ];
  try {
    await ws.run(`engine ${command}`, {
      argv: [engine.python, '-B', '-m', 'uplet_training', command, '--spec', 'spec.json', '--out', 'out'],
      cwd: '/task',
      mounts,
      systemPaths: ENGINE_SANDBOX.systemPaths,
      env: engineEnv(engine),
    });
  } catch (err) {
    if (err instanceof TaskStepFailed && err.result?.exitCode === 2) {
      const detail = (await readJson(path.join(out, 'error.json')).catch(() => undefined)) as
        { error?: { code?: string; message?: string; field?: string } } | undefined;
      const e = detail?.error;
      const reason = e ? `${e.code ?? 'invalid_input'}: ${e.message ?? ''}${e.field ? ` (field ${e.field})` : ''}` : `engine ${command}: bad input (exit 2)`;
      throw new TaskStepFailed(`engine ${command}`, err.result, reason, true);
    }
    throw err;
  }
  return out;
}

/** Reads a JSON output of the sandbox (a regular file, never a symlink it left: sandbox-output.ts). */
export async function readJson(file: string): Promise<Record<string, unknown>> {
  return JSON.parse(await fs.promises.readFile(await sandboxOutputFile(file, 'engine output'), 'utf8')) as Record<string, unknown>;
}

/**
 * Fetches the dataset's blob and checks it is its registrant's: the orchestrator records a
 * dataset without asking the gateway, so a missing or foreign blob is found here, at the site,
 * and is a permanent failure with its reason.
 */
export async function fetchDataset(ws: TaskWorkspace, storageUuid: string, owner: string): Promise<string> {
  await checkDatasetBlob(ws, storageUuid, owner);
  return ws.fetchFile('dataset.csv', 'data', storageUuid);
}

/**
 * The checks of fetchDataset without the download, under this task's lease: enough for a warm
 * worker that already holds the bytes (a blob never changes under its uuid).
 */
export async function checkDatasetBlob(ws: TaskWorkspace, storageUuid: string, owner: string): Promise<void> {
  let meta;
  try {
    meta = await ws.storage.meta('data', storageUuid);
  } catch (err) {
    if (err instanceof StorageRequestError && err.status === 404)
      throw new TaskStepFailed('fetch dataset', undefined, `blob_not_found: no data blob ${storageUuid} at this site's gateway`, true);
    throw err;
  }
  // Synthetic data is written by a compute node under a synthesize lease, naming the dataset's owner as its reader.
  const synthetic = meta.written_under?.kind === 'synthesize' && meta.readers.includes(owner);
  if (meta.owner !== owner && !synthetic)
    throw new TaskStepFailed(
      'fetch dataset',
      undefined,
      `blob_not_owned: data blob ${storageUuid} was uploaded by another principal, not by the dataset's owner`,
      true,
    );
}

/** Uploads an output under this lease; a retried upload that finds its own earlier write keeps it. */
export async function uploadOutput(
  ws: TaskWorkspace,
  kind: BlobKind,
  uuid: string,
  file: string,
  task: string,
  attempt: number,
  options: { readers?: string[]; contentType?: string } = {},
): Promise<void> {
  try {
    await ws.storage.uploadFile(kind, uuid, await sandboxOutputFile(file, 'engine output'), options);
  } catch (err) {
    if (!(err instanceof StorageRequestError && err.status === 409)) throw err;
    const under = (await ws.storage.meta(kind, uuid)).written_under;
    if (!under || under.uplet !== task || under.attempt !== attempt) throw err;
  }
}
