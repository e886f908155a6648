import path from 'node:path';
import { synthDataUuid } from '../../shared/contracts/blob-contract';
import type { EngineSynthesizeTask, SynthesizeDone } from '../../shared/contracts/work-contract';
import type { TaskWorkspace } from '../tasks/task-workspace';
import { readJson, runEngine, uploadOutput } from './engine-command';

/**
 * A synthesize task: the Python `synthetic` on the ontology (no input data), then data.csv
 * uploaded as the `data` blob `synthDataUuid(task, attempt)` under this lease, naming the
 * model's owner as reader (the dataset is registered as theirs; fetchDataset accepts it).
 */
export async function runSynthesizeTask(task: EngineSynthesizeTask, attempt: number, ws: TaskWorkspace): Promise<SynthesizeDone> {
  const out = await runEngine(ws, 'synthetic', { ontology: task.ontology, n_rows: task.n_rows, seed: task.seed }, {});
  const result = await readJson(path.join(out, 'result.json')).catch(() => ({}));
  const storageUuid = synthDataUuid(task.uuid, attempt);
  await uploadOutput(ws, 'data', storageUuid, path.join(out, 'data.csv'), task.uuid, attempt, { readers: [task.owner], contentType: 'text/csv' });
  return { status: 'done', data_storage_uuid: storageUuid, result };
}
