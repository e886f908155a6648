import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_KEYS, type TestRole } from '../harness/orchestrator-fixture';
import { startTestSystem, type TestSystem } from '../harness/system-fixture';

const BIN = path.join(__dirname, '../../dist/cli/main.js');

/** A small two-class table: 160 rows, two numeric features (one informative) and a category. */
function smallCsv(file: string): void {
  const rows = ['x1,x2,colour,label'];
  for (let i = 0; i < 160; i++) {
    const label = i % 2;
    const x1 = (label ? 2 : -2) + ((i * 37) % 17) / 8 - 1;
    rows.push(`${x1.toFixed(3)},${((i * 13) % 11).toFixed(1)},${['red', 'green', 'blue'][i % 3]},${label ? 'good' : 'bad'}`);
  }
  fs.writeFileSync(file, `${rows.join('\n')}\n`);
}

/** `uplet dataset …`, `uplet train`, `uplet job`: the built binary against a real stack with an engine-capable agent. */
describe('the uplet CLI on the training APIs', () => {
  let sys: TestSystem;
  let csv: string;
  beforeAll(async () => {
    if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
    sys = await startTestSystem('cli-train', { LEASE_SECONDS: '30', REAPER_INTERVAL_MS: '500' });
    csv = path.join(sys.work, 'small-table.csv');
    smallCsv(csv);
  }, 120_000);
  afterAll(async () => sys?.cleanup());

  const uplet = (role: TestRole, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: sys.work,
        UPLET_CONFIG: path.join(sys.work, 'none.json'),
        UPLET_ORCHESTRATOR_URL: sys.o.url,
        UPLET_STORAGE_URL: sys.s.url,
        UPLET_API_KEY: TEST_KEYS[role].key,
      };
      execFile(process.execPath, [BIN, ...args], { env, timeout: 300_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });

  test('push a CSV (profile printed), train with --wait (progress, leaderboard, held-out metrics), read the job; refusals keep the exit codes', async () => {
    const pushed = await uplet('provider', ['dataset', 'push', csv, '--name', 'small table']);
    expect(pushed.stderr).toMatch(/dataset ds-?\S+ profiling/);
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toMatch(/"small table" at default: ready, 160 rows, 4 columns/);
    expect(pushed.stdout).toMatch(/^ {2}x1 +numeric +missing +0/m);
    expect(pushed.stdout).toMatch(/^ {2}colour +category .*top /m);
    const datasetId = /dataset (\S+) "small table"/.exec(pushed.stdout)![1]!;

    const shown = await uplet('provider', ['--json', 'dataset', 'show', datasetId]);
    expect(shown.code).toBe(0);
    const ds = JSON.parse(shown.stdout).dataset;
    expect(ds).toMatchObject({ dataset_id: datasetId, status: 'ready', profile: { row_count: 160 } });
    expect(ds.profile.columns.map((c: { name: string; type: string }) => `${c.name}:${c.type}`)).toEqual([
      'x1:numeric',
      'x2:numeric',
      'colour:category',
      'label:category',
    ]);

    const trained = await uplet('provider', [
      'train',
      datasetId,
      '--label',
      'label',
      '--task',
      'classification',
      '--model-types',
      'decision_tree',
      '--trials',
      '2',
      '--metrics',
      'accuracy',
      '--wait',
      '--interval',
      '300',
      '--timeout',
      '240',
    ]);
    expect(trained.code).toBe(0);
    expect(trained.stderr).toMatch(/trials 2\/2 · best accuracy/);
    expect(trained.stdout).toMatch(/^trainer run \S+ on \S+: completed/m);
    expect(trained.stdout).toMatch(/row 0 decision_tree +accuracy +accuracy [\d.]+ +\(2 done\)/);
    expect(trained.stdout).toMatch(/model \S+-model \(refit, decision_tree\); held-out: accuracy [\d.]+/);
    const jobId = /^trainer run (\S+)/m.exec(trained.stdout)![1]!;

    const job = await uplet('reader', ['--json', 'job', jobId]);
    // The reader is not the dataset's owner: the job is not theirs.
    expect(job.code).toBe(1);
    const mine = await uplet('provider', ['--json', 'job', jobId]);
    expect(mine.code).toBe(0);
    const run = JSON.parse(mine.stdout);
    expect(run).toMatchObject({ job_id: jobId, status: 'completed', progress: { trials_done: 2, trials_total: 2 } });
    expect(run.trials).toHaveLength(2);
    expect(run.final_model.report.metrics.accuracy).toBeGreaterThan(0.7);

    // The listing the dashboard reads: the caller's jobs, newest first, without their profiles.
    const listed = await sys.o.call('provider', 'GET', `/v1/jobs?dataset_id=${datasetId}`);
    expect(listed.status).toBe(200);
    expect(listed.body.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([jobId]);
    expect(listed.body.jobs[0]).toMatchObject({ status: 'completed', label_column: 'label', families: ['decision_tree'], model_id: `${jobId}-model` });
    expect(listed.body.jobs[0].profile).toBeUndefined();
    expect((await sys.o.call('reader', 'GET', '/v1/jobs')).body.jobs).toEqual([]);

    const noWait = await uplet('provider', [
      '--json',
      'train',
      datasetId,
      '--label',
      'label',
      '--task',
      'classification',
      '--model-types',
      'decision_tree',
      '--trials',
      '1',
    ]);
    expect(noWait.code).toBe(0);
    expect(JSON.parse(noWait.stdout)).toMatchObject({ job_id: expect.any(String), dataset_id: datasetId });

    const badTask = await uplet('provider', ['train', datasetId, '--label', 'label', '--task', 'clustering']);
    expect(badTask.code).toBe(2);
    const badColumn = await uplet('provider', ['--json', 'train', datasetId, '--label', 'nope', '--task', 'classification']);
    expect(badColumn.code).toBe(1);
    expect(JSON.parse(badColumn.stderr).error.details.field).toBe('task.label_column');
    const unknown = await uplet('provider', ['dataset', 'show', 'no-such-dataset']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^uplet: NOT_FOUND/);
  }, 400_000);
});
