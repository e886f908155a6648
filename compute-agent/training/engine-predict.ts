import path from 'node:path';
import { predictionBlobUuid } from '../../shared/contracts/blob-contract';
import type { PredDone, Preduplet } from '../../shared/contracts/work-contract';
import type { TaskWorkspace } from '../tasks/task-workspace';
import { runEngine, uploadOutput } from './engine-command';

/** A preduplet on a training-engine model: the Python `predict` on the model blob and the data item (raw rows of the model's schema). */
export async function runEnginePredictTask(p: Preduplet, attempt: number, ws: TaskWorkspace): Promise<PredDone> {
  const model = await ws.fetchFile('model.pkl', 'model', p.model);
  const data = await ws.fetchFile('dataset.csv', 'data', p.data);
  const out = await runEngine(ws, 'predict', { model: 'data/model.pkl', dataset: 'data/dataset.csv' }, { 'model.pkl': model, 'dataset.csv': data });
  const storageUuid = predictionBlobUuid(p.uuid, attempt);
  await uploadOutput(ws, 'prediction', storageUuid, path.join(out, 'predictions.csv'), p.uuid, attempt, { readers: [p.owner], contentType: 'text/csv' });
  return { status: 'done', prediction_storage_uuid: storageUuid };
}
