import fs from 'node:fs';
import path from 'node:path';
import { engineOutputUuid } from '../../shared/contracts/blob-contract';
import type { EngineFinalTask, FinalDone } from '../../shared/contracts/work-contract';
import type { TaskWorkspace } from '../tasks/task-workspace';
import { checkDatasetBlob, fetchDataset, readJson, runEngine, uploadOutput } from './engine-command';
import { dataSpec } from './trial-runner';
import type { WarmRunner, WarmWorker } from './warm-workers';

/**
 * The final task: the best trial's family and params refit on the non-test rows, or a Caruana ensemble of the trials' models; report.json and the model.
 * It runs on an idle warm worker of its job (which holds the imported stack and the typed dataset) or a spare when
 * there is one, else cold; `report.runner` says which, as a trial's result does.
 */
export async function runFinalTask(task: EngineFinalTask, attempt: number, ws: TaskWorkspace): Promise<FinalDone> {
  const pool = ws.warmWorkers;
  const taken = pool?.takeForFinal({ job: task.job, site: task.site, family: task.family, dataset: task.storage_uuid });
  // The study is over: this job's other warm workers on this agent are not needed any more.
  pool?.retireJob(task.job);
  let worker: WarmWorker | undefined;
  try {
    const inputs: Record<string, string> = {};
    if (taken && 'worker' in taken) {
      worker = taken.worker;
      // The worker holds the bytes; this lease must still be allowed to read them.
      await checkDatasetBlob(ws, task.storage_uuid, task.owner);
    } else {
      const dataset = await fetchDataset(ws, task.storage_uuid, task.owner).catch((err: unknown) => {
        if (taken) taken.cancel();
        throw err;
      });
      if (taken?.spare) worker = await taken.start(dataset);
      else {
        taken?.cancel(); // not a spare: a fresh worker would cost what a cold run costs
        inputs['dataset.csv'] = dataset;
      }
    }
    // The stage-1 trials' fold models and OOF predictions (ensemble) and the teacher's targets (distillation), read under this lease's capability.
    const names: string[] = [];
    for (const [i, m] of (task.ensemble?.members ?? []).entries()) {
      inputs[`member-${i}.pkl`] = await ws.fetchFile(`member-${i}.pkl`, 'model', m.model);
      inputs[`member-${i}.npy`] = await ws.fetchFile(`member-${i}.npy`, 'model', m.oof);
      names.push(`member-${i}`);
    }
    if (task.teacher_targets) inputs['targets.json'] = await ws.fetchFile('targets.json', 'model', task.teacher_targets);
    /** The spec, its input files under `dir` (`data` cold; the request's own directory in a warm worker). */
    const specFor = (dir: string): Record<string, unknown> => {
      const data = { ...dataSpec(task), ...(task.teacher_targets ? { teacher_targets: `${dir}/targets.json` } : {}) };
      if (!task.ensemble) return { ...data, family: task.family, params: task.params, seed: task.seed };
      const members = names.map((n) => ({ model: `${dir}/${n}.pkl`, oof: `${dir}/${n}.npy` }));
      return { ...data, ensemble: { members, steps: task.ensemble.steps }, seed: task.seed };
    };
    let out: string;
    let runner: WarmRunner | { warm: false };
    if (worker) {
      const warm = await worker.run('final', specFor, ws.signal, inputs);
      // Out of the worker's reach before the agent reads it.
      out = ws.path('engine-out');
      await fs.promises.rename(warm.out, out);
      runner = warm.runner;
    } else {
      out = await runEngine(ws, 'final', specFor('data'), inputs);
      runner = { warm: false };
    }
    const report = { ...(await readJson(path.join(out, 'report.json'))), runner };
    const model = engineOutputUuid(task.uuid, attempt, 'model');
    await uploadOutput(ws, 'model', model, path.join(out, 'model.pkl'), task.uuid, attempt);
    return { status: 'done', report, model_storage_uuid: model };
  } finally {
    if (worker && pool) {
      pool.release(worker);
      pool.retireJob(task.job); // the job's last task: its worker goes too
    }
  }
}
