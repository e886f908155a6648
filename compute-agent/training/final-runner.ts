import path from 'node:path';
import { engineOutputUuid } from '../../shared/contracts/blob-contract';
import type { EngineFinalTask, FinalDone } from '../../shared/contracts/work-contract';
import type { TaskWorkspace } from '../tasks/task-workspace';
import { fetchDataset, readJson, runEngine, uploadOutput } from './engine-command';
import { dataSpec } from './trial-runner';

/** The final task: the best trial's family and params refit on the non-test rows; report.json and the model. */
export async function runFinalTask(task: EngineFinalTask, attempt: number, ws: TaskWorkspace): Promise<FinalDone> {
  const dataset = await fetchDataset(ws, task.storage_uuid, task.owner);
  const out = await runEngine(ws, 'final', { ...dataSpec(task), family: task.family, params: task.params, seed: task.seed }, { 'dataset.csv': dataset });
  const report = await readJson(path.join(out, 'report.json'));
  const model = engineOutputUuid(task.uuid, attempt, 'model');
  await uploadOutput(ws, 'model', model, path.join(out, 'model.pkl'), task.uuid, attempt);
  return { status: 'done', report, model_storage_uuid: model };
}
