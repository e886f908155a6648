import fs from 'node:fs';
import path from 'node:path';
import { engineOutputUuid } from '../../shared/contracts/blob-contract';
import type { EngineDataSpec, EngineTrialTask, TrialDone } from '../../shared/contracts/work-contract';
import type { TaskWorkspace } from '../tasks/task-workspace';
import { checkDatasetBlob, fetchDataset, readJson, runEngine, uploadOutput } from './engine-command';
import type { WarmRunner, WarmWorker, WarmWorkerPool } from './warm-workers';

/** The data fields of a trial or final spec, as the Python reads them (README "Commands and specs"). */
export function dataSpec(task: EngineDataSpec): Record<string, unknown> {
  return {
    dataset: 'data/dataset.csv',
    profile: task.profile,
    label_column: task.label_column,
    task_kind: task.task_kind,
    filters: task.filters,
    ignore_fields: task.ignore_fields,
    random_state: task.random_state,
    metrics: task.metrics,
    class_weight: task.class_weight,
  };
}

/** A distilled job's trial or final task: the teach task's targets as an input, named by the spec's `teacher_targets`. */
export async function teacherInput(task: EngineDataSpec, ws: TaskWorkspace, inputs: Record<string, string>): Promise<Record<string, unknown>> {
  if (!task.teacher_targets) return {};
  inputs['targets.json'] = await ws.fetchFile('targets.json', 'model', task.teacher_targets);
  return { teacher_targets: 'data/targets.json' };
}

/** The Python trial spec of a trial task (exported so a test can run the same spec outside the sandbox). */
export function trialSpec(task: EngineTrialTask): Record<string, unknown> {
  return {
    ...dataSpec(task),
    family: task.family,
    evaluation: task.evaluation,
    seed: task.seed,
    ...(task.params ? { params: task.params } : {}),
    ...(task.ask ? { ask: task.ask } : {}),
  };
}

/** A trial: fold metrics (result.json), out-of-fold predictions and the fold models, stored as this attempt's `model` blobs. */
export async function runTrialTask(task: EngineTrialTask, attempt: number, ws: TaskWorkspace): Promise<TrialDone> {
  const spec = trialSpec(task);
  // A distilled job's trials read the teacher's targets too, which a warm worker's mounts do not hold: they run cold.
  const pool = task.teacher_targets ? undefined : ws.warmWorkers;
  const warm = pool ? await runWarmTrial(pool, task, spec, ws) : undefined;
  const out = warm?.out ?? (await runCold(task, spec, ws));
  ws.reached('computed');
  // Which process ran it: a warm worker's id and trial number, so two jobs sharing one can be seen.
  const runner: WarmRunner | { warm: false } = warm?.runner ?? { warm: false };
  const result = { ...(await readJson(path.join(out, 'result.json'))), runner };
  const model = engineOutputUuid(task.uuid, attempt, 'model');
  const oof = engineOutputUuid(task.uuid, attempt, 'oof');
  // Two independent blobs, uploaded side by side; both settle before the attempt reports (no upload outlives its workspace).
  const uploads = await Promise.allSettled([
    uploadOutput(ws, 'model', model, path.join(out, 'model.pkl'), task.uuid, attempt),
    uploadOutput(ws, 'model', oof, path.join(out, 'oof.npy'), task.uuid, attempt),
  ]);
  for (const u of uploads) if (u.status === 'rejected') throw u.reason;
  return { status: 'done', result, model_storage_uuid: model, oof_storage_uuid: oof };
}

/** The trial in a fresh sandboxed Python (`trial` command). */
async function runCold(task: EngineTrialTask, spec: Record<string, unknown>, ws: TaskWorkspace): Promise<string> {
  const inputs: Record<string, string> = { 'dataset.csv': await fetchDataset(ws, task.storage_uuid, task.owner) };
  const teacher = await teacherInput(task, ws, inputs);
  ws.reached('inputs');
  return runEngine(ws, 'trial', { ...spec, ...teacher }, inputs);
}

/**
 * The trial on a warm worker of its (job, site, family, dataset): an idle one, or one started
 * now; undefined when every worker is busy (the trial then runs cold). Its outputs move into
 * this task's workspace, out of the worker's reach, before the agent reads them.
 */
async function runWarmTrial(
  pool: WarmWorkerPool,
  task: EngineTrialTask,
  spec: Record<string, unknown>,
  ws: TaskWorkspace,
): Promise<{ out: string; runner: WarmRunner } | undefined> {
  const taken = pool.take({ job: task.job, site: task.site, family: task.family, dataset: task.storage_uuid });
  if (!taken) return undefined;
  let worker: WarmWorker;
  if ('worker' in taken) {
    const idle = taken.worker;
    // The worker holds the bytes; this lease must still be allowed to read them.
    await checkDatasetBlob(ws, task.storage_uuid, task.owner).catch((err: unknown) => {
      pool.release(idle);
      throw err;
    });
    worker = idle;
  } else {
    const dataset = await fetchDataset(ws, task.storage_uuid, task.owner).catch((err: unknown) => {
      taken.cancel();
      throw err;
    });
    worker = await taken.start(dataset);
  }
  ws.reached('inputs');
  try {
    const { out, runner } = await worker.runTrial(spec, ws.signal);
    const own = ws.path('engine-out');
    await fs.promises.rename(out, own);
    return { out: own, runner };
  } finally {
    pool.release(worker);
  }
}
