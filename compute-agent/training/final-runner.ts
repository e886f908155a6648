import path from 'node:path';
import { engineOutputUuid } from '../../shared/contracts/blob-contract';
import type { EngineFinalTask, FinalDone } from '../../shared/contracts/work-contract';
import type { TaskWorkspace } from '../tasks/task-workspace';
import { fetchDataset, readJson, runEngine, uploadOutput } from './engine-command';
import { dataSpec, teacherInput } from './trial-runner';

/** The final task: the best trial's family and params refit on the non-test rows, or a Caruana ensemble of the trials' models; report.json and the model. */
export async function runFinalTask(task: EngineFinalTask, attempt: number, ws: TaskWorkspace): Promise<FinalDone> {
  // The study is over: this job's warm trial workers on this agent are not needed any more.
  ws.warmWorkers?.retireJob(task.job);
  const dataset = await fetchDataset(ws, task.storage_uuid, task.owner);
  const inputs: Record<string, string> = { 'dataset.csv': dataset };
  let ensemble: Record<string, unknown> | undefined;
  if (task.ensemble) {
    // The stage-1 trials' fold models and OOF predictions, read under this lease's capability.
    const members = [];
    for (const [i, m] of task.ensemble.members.entries()) {
      inputs[`member-${i}.pkl`] = await ws.fetchFile(`member-${i}.pkl`, 'model', m.model);
      inputs[`member-${i}.npy`] = await ws.fetchFile(`member-${i}.npy`, 'model', m.oof);
      members.push({ model: `data/member-${i}.pkl`, oof: `data/member-${i}.npy` });
    }
    ensemble = { members, steps: task.ensemble.steps };
  }
  const data = { ...dataSpec(task), ...(await teacherInput(task, ws, inputs)) };
  const spec = ensemble ? { ...data, ensemble, seed: task.seed } : { ...data, family: task.family, params: task.params, seed: task.seed };
  const out = await runEngine(ws, 'final', spec, inputs);
  const report = await readJson(path.join(out, 'report.json'));
  const model = engineOutputUuid(task.uuid, attempt, 'model');
  await uploadOutput(ws, 'model', model, path.join(out, 'model.pkl'), task.uuid, attempt);
  return { status: 'done', report, model_storage_uuid: model };
}
