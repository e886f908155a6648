import fs from 'node:fs';
import path from 'node:path';
import { packArchive } from '../../standalone/pack-archive';
import { EXAMPLE_DIR as EXAMPLE, exampleItem as item, startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';

/**
 * A reduced demo through the three services over HTTP and RabbitMQ: real data,
 * a real algo in the real sandbox, a chain trained to the end, predictions
 * downloaded and scored.
 */
describe('a federated training run end to end', () => {
  let sys: TestSystem;
  beforeAll(async () => void (sys = await startTestSystem('e2e', { LEASE_SECONDS: '30', REAPER_INTERVAL_MS: '500', MAX_ATTEMPTS: '2' })));
  afterAll(async () => sys?.cleanup());

  test('a logistic-regression chain trains on three providers’ data and predicts held-out data', async () => {
    const { o, work } = sys;
    const as = sys.storageAs;
    await packArchive(path.join(EXAMPLE, 'workflow'), path.join(work, 'workflow.tar.gz'));
    await packArchive(path.join(EXAMPLE, 'algo-logreg'), path.join(work, 'logreg.tar.gz'));
    await as('organizer').uploadFile('workflow', 'bc-workflow', path.join(work, 'workflow.tar.gz'));
    await as('author').uploadFile('algo', 'bc-logreg', path.join(work, 'logreg.tar.gz'));
    const train = ['bc-train-00', 'bc-train-01', 'bc-train-02', 'bc-train-03', 'bc-train-04', 'bc-train-05'];
    const test = ['bc-test-0', 'bc-test-1', 'bc-test-2'];
    for (const uuid of [...train, ...test, 'bc-predict-0']) await as('provider').uploadFile('data', uuid, item(uuid), { contentType: 'text/csv' });

    expect((await o.call('organizer', 'POST', '/problem', { uuid: 'bc', workflow: 'bc-workflow', test_dataset: test, size_train_dataset: 2 })).status).toBe(
      201,
    );
    // The test items too, by their provider: a task's capability opens test data only once its owner registered it to the problem.
    expect((await o.call('provider', 'POST', '/data', { uuid: [...train, ...test], problems: 'bc' })).status).toBe(201);
    const algo = await o.call('author', 'POST', '/algo', { uuid: 'bc-logreg', name: 'logistic regression', problem: 'bc' });
    expect(algo.body.new_learnuplets).toBe(3);

    const chain = await waitFor(async () => {
      const ls = (await o.call('reader', 'GET', '/learnuplet?problem=bc')).body.learnuplets as any[];
      return ls.every((l) => l.status === 'done' || l.status === 'failed') ? ls : undefined;
    }, 90_000);
    expect(chain.map((l) => l.status)).toEqual(['done', 'done', 'done']);
    for (const l of chain) {
      expect(Object.keys(l.test_perf).sort()).toEqual(test);
      expect(Object.keys(l.train_perf).sort()).toEqual(l.train_data.slice().sort());
    }
    // Each rank started from the previous model (perf rose) or the best before it.
    expect(chain[0].model_start).toBe('bc-logreg');
    expect([chain[0].model_end]).toContain(chain[1].model_start);
    // Well above the majority-class rate (63 % benign): only real learning gets there.
    const best = Math.max(...chain.map((l) => l.perf));
    expect(best).toBeGreaterThan(0.88);
    process.stderr.write(`e2e chain perf by rank: ${chain.map((l) => l.perf.toFixed(3)).join(' → ')}\n`);

    // Predictions on held-out data with the best model, downloaded by the requester and scored here.
    // Its owner registers it to no problem and requests them: predictions name only the requester's own data.
    expect((await o.call('provider', 'POST', '/data', { uuid: 'bc-predict-0', problems: [] })).status).toBe(201);
    expect((await o.call('reader', 'POST', '/prediction', { data: ['bc-predict-0'], problem: 'bc' })).status).toBe(422);
    const pred = await o.call('provider', 'POST', '/prediction', { data: ['bc-predict-0'], problem: 'bc' });
    expect(pred.status).toBe(201);
    const [puuid] = pred.body.preduplets;
    const done = await waitFor(async () => {
      const p = (await o.call('reader', 'GET', `/preduplet/${puuid}`)).body;
      return p.status === 'done' || p.status === 'failed' ? p : undefined;
    }, 60_000);
    expect(done.status).toBe('done');
    const dest = path.join(work, 'predictions.csv');
    await as('provider').downloadToFile('prediction', done.prediction_storage_uuid, dest);
    // Another user may not read them; the algo author may not read the data.
    await expect(as('author').downloadToFile('prediction', done.prediction_storage_uuid, path.join(work, 'x'))).rejects.toThrow(/403/);
    await expect(as('author').downloadToFile('data', 'bc-train-00', path.join(work, 'y'))).rejects.toThrow(/403/);
    const probabilities = fs.readFileSync(dest, 'utf8').trim().split('\n').slice(1).map(Number);
    const labels = fs
      .readFileSync(item('bc-predict-0'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => Number(l.split(',').pop()));
    expect(probabilities).toHaveLength(labels.length);
    const accuracy = labels.filter((y, i) => (probabilities[i]! >= 0.5 ? 1 : 0) === y).length / labels.length;
    process.stderr.write(`e2e prediction accuracy on held-out data: ${accuracy.toFixed(3)}\n`);
    expect(accuracy).toBeGreaterThan(0.85);
  }, 180_000);
});

describe('a hostile algo in a real chain', () => {
  let sys: TestSystem;
  beforeAll(async () => void (sys = await startTestSystem('hostile', { MAX_ATTEMPTS: '2' })));
  afterAll(async () => sys?.cleanup());

  test('its uplets fail with the reason and the log tail, its chain ends, and the agent keeps serving', async () => {
    const { o, work } = sys;
    const as = sys.storageAs;
    fs.mkdirSync(path.join(work, 'hostile'));
    fs.writeFileSync(
      path.join(work, 'hostile', 'run'),
      `#!/usr/bin/env python3
import socket, sys
try:
    socket.create_connection(('127.0.0.1', 5672), timeout=1)
except OSError as e:
    sys.stderr.write('cannot phone home: %s\\n' % e)
    # A NUL, an escape sequence and a bidi override: the report must still get through.
    sys.stderr.write('\\x00\\x1b[31mred\\u202e\\n')
    sys.exit(4)
`,
      { mode: 0o755 },
    );
    await packArchive(path.join(work, 'hostile'), path.join(work, 'hostile.tar.gz'));
    await packArchive(path.join(EXAMPLE, 'workflow'), path.join(work, 'workflow.tar.gz'));
    await packArchive(path.join(EXAMPLE, 'algo-logreg'), path.join(work, 'logreg.tar.gz'));
    await as('organizer').uploadFile('workflow', 'wf', path.join(work, 'workflow.tar.gz'));
    await as('author').uploadFile('algo', 'hostile', path.join(work, 'hostile.tar.gz'));
    await as('author').uploadFile('algo', 'logreg', path.join(work, 'logreg.tar.gz'));
    const train = ['bc-train-06', 'bc-train-07', 'bc-train-08', 'bc-train-09'];
    for (const uuid of [...train, 'bc-test-0']) await as('provider').uploadFile('data', uuid, item(uuid));
    await o.call('organizer', 'POST', '/problem', { uuid: 'hp', workflow: 'wf', test_dataset: ['bc-test-0'], size_train_dataset: 2 });
    await o.call('provider', 'POST', '/data', { uuid: [...train, 'bc-test-0'], problems: 'hp' });
    await o.call('author', 'POST', '/algo', { uuid: 'hostile', name: 'hostile', problem: 'hp' });
    await o.call('author', 'POST', '/algo', { uuid: 'logreg', name: 'logreg', problem: 'hp' });

    const all = await waitFor(async () => {
      const ls = (await o.call('reader', 'GET', '/learnuplet?problem=hp')).body.learnuplets as any[];
      return ls.every((l) => l.status === 'done' || l.status === 'failed') ? ls : undefined;
    }, 90_000);
    const hostile = all.filter((l) => l.algo === 'hostile');
    expect(hostile.map((l) => l.status)).toEqual(['failed', 'failed']);
    expect(hostile[0].attempt).toBe(2);
    expect(hostile[0].failure_reason).toMatch(/failed 2 times; last failure: train: \.\/run train exited with code 4/);
    expect(hostile[0].failure_reason).toMatch(/cannot phone home/);
    expect(hostile[0].failure_reason).toMatch(/\ufffd\ufffd\[31mred\ufffd/);
    expect(hostile[0].failure_reason).not.toMatch(/[\u0000\u001b\u202e]/);
    expect(all.filter((l) => l.algo === 'logreg').map((l) => l.status)).toEqual(['done', 'done']);
    // The agent counts a task finished after its report's answer, which comes after the status is written.
    expect(await waitFor(async () => sys.a!.agent.running() === 0 || undefined, 10_000)).toBe(true);
  }, 180_000);

  test('the example algo of the README, taken from it as it is, goes through a chain and learns', async () => {
    const { o, work } = sys;
    const readme = fs.readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
    const code = /```python\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(code).toBeDefined();
    fs.mkdirSync(path.join(work, 'readme-algo'));
    fs.writeFileSync(path.join(work, 'readme-algo', 'run'), code!, { mode: 0o755 });
    await packArchive(path.join(work, 'readme-algo'), path.join(work, 'readme-algo.tar.gz'));
    await sys.storageAs('author').uploadFile('algo', 'centroid', path.join(work, 'readme-algo.tar.gz'));
    await o.call('author', 'POST', '/algo', { uuid: 'centroid', name: 'nearest centroid', problem: 'hp' });
    const chain = await waitFor(async () => {
      const ls = (await o.call('reader', 'GET', '/learnuplet?algo=centroid')).body.learnuplets as any[];
      return ls.length > 0 && ls.every((l) => l.status === 'done' || l.status === 'failed') ? ls : undefined;
    }, 60_000);
    expect(chain.map((l) => [l.status, l.failure_reason])).toEqual([
      ['done', null],
      ['done', null],
    ]);
    process.stderr.write(`README algo perf by rank: ${chain.map((l) => l.perf.toFixed(3)).join(' → ')}\n`);
    expect(Math.max(...chain.map((l) => l.perf))).toBeGreaterThan(0.8);
  }, 120_000);
});
