import fs from 'node:fs';
import type { LearnDone, Learnuplet } from '../../shared/contracts/work-contract';
import { StorageRequestError } from '../../shared/http/storage-client';
import type { Logger } from '../../shared/logging/logger';
import { sandboxOutputFile } from '../sandbox/sandbox-output';
import { readScore } from './score-file';
import { allFetched, TaskStepFailed, type TaskWorkspace } from './task-workspace';

/**
 * One learnuplet, in the sandbox, step by step: detarget the data (so the algo
 * never sees test labels), train from the start model, keep the model, predict
 * on the detargeted train and test data, score both.
 */
export async function runLearnTask(l: Learnuplet, ws: TaskWorkspace, logger: Logger): Promise<LearnDone> {
  const untrained = l.model_start === l.algo;
  // Fetched side by side: each is a round trip to a gateway, and none needs another.
  const [algo, workflow, , , modelIn] = await allFetched([
    ws.archive('algo', l.algo),
    ws.archive('workflow', l.workflow),
    ws.fetchInto('train', 'data', l.train_data),
    ws.fetchInto('test', 'data', l.test_data),
    untrained ? undefined : ws.fetchFile('model-in', 'model', l.model_start),
  ]);

  const detarget = async (from: string) => {
    const out = await ws.outputDir(`${from}-features`);
    await ws.run(`detarget ${from}`, {
      argv: ['./run', 'detarget', '/task/in', '/task/out'],
      cwd: '/task/workflow',
      mounts: [ro(workflow, '/task/workflow'), ro(ws.path(from), '/task/in'), rw(out, '/task/out')],
    });
    return out;
  };
  const trainFeatures = await detarget('train');
  const testFeatures = await detarget('test');

  const modelOut = await ws.outputDir('model-out');
  await ws.run('train', {
    argv: ['./run', 'train', '/task/train', modelIn ? '/task/model-in' : '-', '/task/out/model'],
    cwd: '/task/algo',
    mounts: [ro(algo, '/task/algo'), ro(ws.path('train'), '/task/train'), ...(modelIn ? [ro(modelIn, '/task/model-in')] : []), rw(modelOut, '/task/out')],
  });
  const model = ws.path('model-out', 'model');
  if (!fs.existsSync(model)) throw new Error('train: the algo exited 0 but wrote no model to its model_out path');
  // Uploaded, and bind-mounted into the predict steps: a symlink would hand them a host file.
  await sandboxOutputFile(model, 'train');
  await keepModel(ws, l, model, logger);

  const predict = async (features: string, name: string) => {
    const out = await ws.outputDir(name);
    await ws.run(`predict ${name}`, {
      argv: ['./run', 'predict', '/task/in', '/task/model', '/task/out'],
      cwd: '/task/algo',
      mounts: [ro(algo, '/task/algo'), ro(features, '/task/in'), ro(model, '/task/model'), rw(out, '/task/out')],
    });
    return out;
  };
  const score = async (predictions: string, truth: string, items: readonly string[]) => {
    const out = await ws.outputDir(`score-${truth}`);
    await ws.run(`score ${truth}`, {
      argv: ['./run', 'score', '/task/predictions', '/task/truth', '/task/out/score.json'],
      cwd: '/task/workflow',
      mounts: [ro(workflow, '/task/workflow'), ro(predictions, '/task/predictions'), ro(ws.path(truth), '/task/truth'), rw(out, '/task/out')],
    });
    return readScore(`${out}/score.json`, items);
  };
  const trainScore = await score(await predict(trainFeatures, 'train-predictions'), 'train', l.train_data);
  const testScore = await score(await predict(testFeatures, 'test-predictions'), 'test', l.test_data);
  return { status: 'done', perf: testScore.perf, train_perf: trainScore.perfs, test_perf: testScore.perfs };
}

/**
 * Uploads the model under model_end (the lease's capability authorises exactly
 * that). If an earlier attempt of this learnuplet uploaded one before dying,
 * blobs being immutable, that model is the learnuplet's: it is fetched and
 * scored instead, so perf always describes the stored model. Only a model the
 * gateway recorded as written under one of this learnuplet's own leases is
 * adopted; any other (stored by hand, or before writes needed a lease) fails
 * the attempt rather than become this learnuplet's result.
 */
async function keepModel(ws: TaskWorkspace, l: Learnuplet, model: string, logger: Logger): Promise<void> {
  try {
    await ws.storage.uploadFile('model', l.model_end, model);
  } catch (err) {
    if (!(err instanceof StorageRequestError && err.status === 409)) throw err;
    const stored = await ws.storage.meta('model', l.model_end);
    const under = stored.written_under;
    if (!under || under.kind !== 'learnuplet' || under.uplet !== l.uuid) {
      throw new TaskStepFailed(
        'store model',
        undefined,
        `store model: model ${l.model_end} already exists and was not written under a lease of learnuplet ${l.uuid}; it is not adopted`,
      );
    }
    logger.warn('an earlier attempt stored this model already; scoring that one', { uplet: l.uuid, model: l.model_end, attempt: under.attempt });
    await fs.promises.rm(model, { force: true });
    await ws.storage.downloadToFile('model', l.model_end, model);
    await fs.promises.chmod(model, 0o644);
  }
}

export const ro = (hostPath: string, sandboxPath: string) => ({ hostPath, sandboxPath, writable: false });
export const rw = (hostPath: string, sandboxPath: string) => ({ hostPath, sandboxPath, writable: true });
