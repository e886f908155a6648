import path from 'node:path';
import { engineOutputUuid } from '../../shared/contracts/blob-contract';
import type { EngineDataSpec, EngineTrialTask, TrialDone } from '../../shared/contracts/work-contract';
import type { TaskWorkspace } from '../tasks/task-workspace';
import { fetchDataset, readJson, runEngine, uploadOutput } from './engine-command';

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
  const dataset = await fetchDataset(ws, task.storage_uuid, task.owner);
  const inputs: Record<string, string> = { 'dataset.csv': dataset };
  const out = await runEngine(ws, 'trial', { ...trialSpec(task), ...(await teacherInput(task, ws, inputs)) }, inputs);
  const result = await readJson(path.join(out, 'result.json'));
  const model = engineOutputUuid(task.uuid, attempt, 'model');
  const oof = engineOutputUuid(task.uuid, attempt, 'oof');
  await uploadOutput(ws, 'model', model, path.join(out, 'model.pkl'), task.uuid, attempt);
  await uploadOutput(ws, 'model', oof, path.join(out, 'oof.npy'), task.uuid, attempt);
  return { status: 'done', result, model_storage_uuid: model, oof_storage_uuid: oof };
}
