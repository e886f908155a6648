import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sha256OfFile } from '../../shared/http/storage-client';
import { FilesystemBlobStore } from '../../storage-gateway/blob-store/filesystem-blob-store';
import { packArchive } from '../../standalone/pack-archive';
import { startTestAgent } from '../harness/agent-fixture';
import { EXAMPLE_DIR, exampleItem, startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';

/**
 * An earlier attempt stored its model and died before reporting. Blobs are
 * immutable, so the next attempt adopts that model: it is the one scored, the
 * one recorded, the one the next rank starts from. Only a model written under
 * one of that learnuplet's own leases is adopted (issue 15, item 2).
 */
describe('a model left by a dead attempt', () => {
  let sys: TestSystem;
  beforeAll(async () => void (sys = await startTestSystem('adopt', {}, { agent: false })));
  afterAll(async () => sys?.cleanup());

  test('is adopted and scored by the next attempt instead of a second model', async () => {
    const { o, work } = sys;
    await packArchive(path.join(EXAMPLE_DIR, 'workflow'), path.join(work, 'wf.tar.gz'));
    await packArchive(path.join(EXAMPLE_DIR, 'algo-logreg'), path.join(work, 'logreg.tar.gz'));
    await sys.storageAs('organizer').uploadFile('workflow', 'wf', path.join(work, 'wf.tar.gz'));
    await sys.storageAs('author').uploadFile('algo', 'logreg', path.join(work, 'logreg.tar.gz'));
    for (const uuid of ['bc-train-12', 'bc-train-13', 'bc-test-2']) await sys.storageAs('provider').uploadFile('data', uuid, exampleItem(uuid));
    await o.call('organizer', 'POST', '/problem', { uuid: 'ap', workflow: 'wf', test_dataset: ['bc-test-2'], size_train_dataset: 1 });
    // The test item is registered to the problem by its provider, so the tasks' capabilities open it.
    await o.call('provider', 'POST', '/data', { uuid: ['bc-train-12', 'bc-test-2'], problems: 'ap' });
    await o.call('author', 'POST', '/algo', { uuid: 'logreg', name: 'logreg', problem: 'ap' });
    const [rank0] = (await o.call('reader', 'GET', '/learnuplet?problem=ap')).body.learnuplets;

    // The "dead attempt": it claims the rank, stores a model trained on other data
    // under its model_end with its lease's capability, and gives the lease back unreported.
    const scratch = path.join(work, 'dead-attempt');
    fs.mkdirSync(path.join(scratch, 'train'), { recursive: true });
    fs.copyFileSync(exampleItem('bc-train-13'), path.join(scratch, 'train', 'bc-train-13'));
    execFileSync(path.join(EXAMPLE_DIR, 'algo-logreg', 'run'), ['train', path.join(scratch, 'train'), '-', path.join(scratch, 'model')]);
    // Without the lease, the model cannot be planted.
    await expect(sys.storageAs('compute').uploadFile('model', rank0.model_end, path.join(scratch, 'model'))).rejects.toThrow(/403|not authorise/);
    const dead = await o.call('compute', 'POST', `/worker/learnuplet/${rank0.uuid}`, { worker: 'dead-agent' });
    expect(dead.status).toBe(200);
    const stored = await sys.storageAs('compute').withCapability(dead.body.lease.capability).uploadFile('model', rank0.model_end, path.join(scratch, 'model'));
    expect(stored.written_under).toMatchObject({ kind: 'learnuplet', uplet: rank0.uuid, attempt: 1 });
    expect((await o.call('compute', 'POST', `/worker/learnuplet/${rank0.uuid}/release`, { lease_token: dead.body.lease.token })).status).toBe(200);
    const storedSha = await sha256OfFile(path.join(scratch, 'model'));

    // What that model scores on the test item, computed here with the same workflow.
    fs.mkdirSync(path.join(scratch, 'truth'));
    fs.mkdirSync(path.join(scratch, 'features'));
    fs.mkdirSync(path.join(scratch, 'predictions'));
    fs.copyFileSync(exampleItem('bc-test-2'), path.join(scratch, 'truth', 'bc-test-2'));
    execFileSync(path.join(EXAMPLE_DIR, 'workflow', 'run'), ['detarget', path.join(scratch, 'truth'), path.join(scratch, 'features')]);
    execFileSync(path.join(EXAMPLE_DIR, 'algo-logreg', 'run'), [
      'predict',
      path.join(scratch, 'features'),
      path.join(scratch, 'model'),
      path.join(scratch, 'predictions'),
    ]);
    execFileSync(path.join(EXAMPLE_DIR, 'workflow', 'run'), [
      'score',
      path.join(scratch, 'predictions'),
      path.join(scratch, 'truth'),
      path.join(scratch, 'score.json'),
    ]);
    const expectedPerf = JSON.parse(fs.readFileSync(path.join(scratch, 'score.json'), 'utf8')).perf;
    // A model of the attempt's own (trained on its own minibatch) scores otherwise, so the check below can tell them apart.
    fs.mkdirSync(path.join(scratch, 'own-train'));
    fs.mkdirSync(path.join(scratch, 'own-predictions'));
    fs.copyFileSync(exampleItem('bc-train-12'), path.join(scratch, 'own-train', 'bc-train-12'));
    execFileSync(path.join(EXAMPLE_DIR, 'algo-logreg', 'run'), ['train', path.join(scratch, 'own-train'), '-', path.join(scratch, 'own-model')]);
    execFileSync(path.join(EXAMPLE_DIR, 'algo-logreg', 'run'), [
      'predict',
      path.join(scratch, 'features'),
      path.join(scratch, 'own-model'),
      path.join(scratch, 'own-predictions'),
    ]);
    execFileSync(path.join(EXAMPLE_DIR, 'workflow', 'run'), [
      'score',
      path.join(scratch, 'own-predictions'),
      path.join(scratch, 'truth'),
      path.join(scratch, 'own-score.json'),
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(scratch, 'own-score.json'), 'utf8')).perf).not.toBe(expectedPerf);

    const agent = await startTestAgent(o.url, sys.s.url, o.prefix);
    try {
      const done = await waitFor(async () => {
        const l = (await o.call('reader', 'GET', `/learnuplet/${rank0.uuid}`)).body;
        return l.status === 'done' || l.status === 'failed' ? l : undefined;
      }, 60_000);
      expect(done.status).toBe('done');
      expect(done.perf).toBe(expectedPerf);
      expect(done.attempt).toBe(2);
      expect((await sys.storageAs('compute').meta('model', rank0.model_end)).sha256).toBe(storedSha);
    } finally {
      await agent.cleanup();
    }
  }, 120_000);

  test('a model not written under a lease of its learnuplet is not adopted: the attempt fails and says why', async () => {
    const { o, work } = sys;
    await sys.storageAs('provider').uploadFile('data', 'bc-test-1', exampleItem('bc-test-1'));
    await o.call('organizer', 'POST', '/problem', { uuid: 'np', workflow: 'wf', test_dataset: ['bc-test-1'], size_train_dataset: 1 });
    await o.call('provider', 'POST', '/data', { uuid: ['bc-train-13', 'bc-test-1'], problems: 'np' });
    await o.call('author', 'POST', '/algo', { uuid: 'logreg-np', name: 'logreg', problem: 'np' });
    await sys.storageAs('author').uploadFile('algo', 'logreg-np', path.join(work, 'logreg.tar.gz'));
    const [rank0] = (await o.call('reader', 'GET', '/learnuplet?problem=np')).body.learnuplets;
    // Stored behind the gateway's back (by hand, or before outputs needed a lease): no lease recorded on it.
    const store = new FilesystemBlobStore(sys.s.dir);
    // A real model (trained on other data by the first test), so an agent that adopted it would report done.
    await store.put('model', rank0.model_end, fs.createReadStream(path.join(work, 'dead-attempt', 'own-model')), {
      owner: 'node-1',
      contentType: 'application/octet-stream',
      readers: [],
      maxBytes: 1024 * 1024,
    });

    const agent = await startTestAgent(o.url, sys.s.url, o.prefix);
    try {
      const end = await waitFor(async () => {
        const l = (await o.call('reader', 'GET', `/learnuplet/${rank0.uuid}`)).body;
        return l.status === 'done' || l.status === 'failed' ? l : undefined;
      }, 90_000);
      expect(end.status).toBe('failed');
      expect(end.failure_reason).toMatch(/not written under a lease of learnuplet .* not adopted/);
    } finally {
      await agent.cleanup();
    }
  }, 120_000);
});
