import path from 'node:path';
import type { EngineProfileTask, ProfileDone } from '../../shared/contracts/work-contract';
import type { TaskWorkspace } from '../tasks/task-workspace';
import { fetchDataset, readJson, runEngine } from './engine-command';

/** A profile task: the schema of the dataset (never rows), from the Python `profile`. */
export async function runProfileTask(task: EngineProfileTask, ws: TaskWorkspace): Promise<ProfileDone> {
  const dataset = await fetchDataset(ws, task.storage_uuid, task.owner);
  const out = await runEngine(ws, 'profile', { dataset: 'data/dataset.csv' }, { 'dataset.csv': dataset });
  return { status: 'done', profile: await readJson(path.join(out, 'profile.json')) };
}
