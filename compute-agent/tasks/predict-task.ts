import fs from 'node:fs';
import type { PredDone, Preduplet } from '../../shared/contracts/work-contract';
import { predictionBlobUuid } from '../../shared/contracts/blob-contract';
import { StorageRequestError } from '../../shared/http/storage-client';
import { ro, rw } from './learn-task';
import { allFetched, type TaskWorkspace } from './task-workspace';
import { sandboxOutputFile } from '../sandbox/sandbox-output';

/** One preduplet: detarget the data item, predict with the chosen model, upload the predictions for the requester. */
export async function runPredictTask(p: Preduplet, attempt: number, ws: TaskWorkspace): Promise<PredDone> {
  // Fetched side by side: each is a round trip to a gateway, and none needs another.
  const [algo, workflow, model] = await allFetched([
    ws.archive('algo', p.algo),
    ws.archive('workflow', p.workflow),
    ws.fetchFile('model', 'model', p.model),
    ws.fetchInto('data', 'data', [p.data]),
  ]);

  const features = await ws.outputDir('features');
  await ws.run('detarget', {
    argv: ['./run', 'detarget', '/task/in', '/task/out'],
    cwd: '/task/workflow',
    mounts: [ro(workflow, '/task/workflow'), ro(ws.path('data'), '/task/in'), rw(features, '/task/out')],
  });
  const out = await ws.outputDir('predictions');
  await ws.run('predict', {
    argv: ['./run', 'predict', '/task/in', '/task/model', '/task/out'],
    cwd: '/task/algo',
    mounts: [ro(algo, '/task/algo'), ro(features, '/task/in'), ro(model, '/task/model'), rw(out, '/task/out')],
  });
  const file = ws.path('predictions', p.data);
  if (!fs.existsSync(file)) throw new Error(`predict: the algo wrote no predictions file named ${p.data}`);
  await sandboxOutputFile(file, 'predict');

  // One blob per attempt, the one this lease's capability may write; the orchestrator accepts no other uuid.
  const storageUuid = predictionBlobUuid(p.uuid, attempt);
  try {
    await ws.storage.uploadFile('prediction', storageUuid, file, { readers: [p.owner], contentType: 'text/csv' });
  } catch (err) {
    if (!(err instanceof StorageRequestError && err.status === 409)) throw err;
    // Only this attempt can have written it (a retried upload whose answer was lost): keep that one.
    const under = (await ws.storage.meta('prediction', storageUuid)).written_under;
    if (!under || under.uplet !== p.uuid || under.attempt !== attempt) throw err;
  }
  return { status: 'done', prediction_storage_uuid: storageUuid };
}
