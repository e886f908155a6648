import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { startTestOrchestrator, TEST_KEYS, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';

const SCREENSHOT = path.join(__dirname, 'screenshots', 'dashboard-1366x768.png');
const CHROMIUM = process.env.UPLET_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by
 * puppeteer-core (test/e2e/dashboard-driver.mjs), against a real orchestrator
 * with a small workload: a problem, two algos, ranks done with perfs, a
 * prediction. It checks what a person would see, that it updates live from the event stream (GET /events), and
 * that axe-core finds no accessibility violation; it saves a 1366×768 screenshot.
 */
describe('the dashboard in a real browser', () => {
  let t: TestOrchestrator;
  const finishRank = async (algo: string, rank: number, perf: number) => {
    const l = (await t.call('reader', 'GET', `/learnuplet?algo=${algo}&rank=${rank}`)).body.learnuplets[0];
    const claim = await t.call('compute', 'POST', `/worker/learnuplet/${l.uuid}`, { worker: 'node-1' });
    const done = await t.call('compute', 'POST', `/learndone/${l.uuid}`, {
      status: 'done',
      perf,
      train_perf: {},
      test_perf: {},
      lease_token: claim.body.lease.token,
    });
    if (done.status !== 200) throw new Error(`learndone: ${JSON.stringify(done.body)}`);
  };

  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`npm run setup\` (it installs Debian's chromium as root)`);
    t = await startTestOrchestrator('dashboard');
    await t.call('organizer', 'POST', '/problem', { uuid: 'bc', workflow: 'bc-wf', test_dataset: ['t0'], size_train_dataset: 1 });
    await t.call('provider', 'POST', '/data', { uuid: ['t0', 'd0', 'd1', 'd2', 'd3', 'd4'], problems: 'bc' });
    await t.call('author', 'POST', '/algo', { uuid: 'logreg', name: 'logistic regression', problem: 'bc' });
    await t.call('author', 'POST', '/algo', { uuid: 'mlp', name: 'multilayer perceptron', problem: 'bc' });
    for (const [rank, perf] of [0.71, 0.83, 0.9].entries()) await finishRank('logreg', rank, perf);
    for (const [rank, perf] of [0.64, 0.78].entries()) await finishRank('mlp', rank, perf);
    await t.call('provider', 'POST', '/data', { uuid: ['p0'], problems: [] });
    await t.call('provider', 'POST', '/prediction', { data: ['p0'], problem: 'bc' });
  });
  afterAll(async () => t?.cleanup());

  test('shows the chains, the leaderboard and a learning curve, live, with no accessibility violation', async () => {
    const child = spawn(
      process.execPath,
      [path.join(__dirname, 'dashboard-driver.mjs'), t.url, TEST_KEYS.reader.key, 'wrong-key-00000000000000', SCREENSHOT, 'logreg'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const steps = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => {
      const line = await steps.next();
      if (line.done) throw new Error(`the browser driver stopped: ${stderr}`);
      return JSON.parse(line.value);
    };
    try {
      const loaded = await next();
      expect(loaded.firstFocus).toBe('Skip to content');
      expect(loaded.refusal).toMatch(/refused \(UNAUTHENTICATED\)/);
      expect(loaded.seen.keyInStorage).toBe(true);
      const logreg = loaded.seen.chains.find((c: { algo: string }) => c.algo === 'logreg');
      expect(logreg.title).toContain('logistic regression');
      expect(logreg.cells.map((c: { status: string }) => c.status)).toEqual(['done', 'done', 'done', 'todo', 'waiting']);
      expect(logreg.cells[2].label).toBe('rank 2: done, perf 0.900');
      expect(loaded.seen.leaderboard[0]).toEqual(['1', 'logistic regression', 'author', '0.900', '2', '3/5']);
      expect(loaded.seen.leaderboard[1]).toEqual(['2', 'multilayer perceptron', 'author', '0.780', '1', '2/5']);
      expect(loaded.seen.predictions).toHaveLength(1);
      // The claims above were signs of life of node-1 at the one site.
      expect(loaded.seen.sites).toEqual(['default · 1 live agent (node-1)']);
      expect(loaded.painted.painted).toBeGreaterThan(500);

      await finishRank('logreg', 3, 0.92);
      child.stdin.write('next\n');
      const live = await next();
      // Redrawn from the event stream (polling is once a minute here), in the same document.
      expect(live).toMatchObject({ sameDocument: true, done: 4 });
      expect(live.liveText).toMatch(/^Live \(events\)/);

      const done = await next();
      expect(done.violations).toEqual([]);
      // Only the deliberate wrong key fails to load.
      expect(done.consoleErrors.filter((e: string) => !/status of 401/.test(e))).toEqual([]);
      expect(fs.statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    } finally {
      child.stdin.end();
      child.kill();
    }
  }, 90_000);
});

/** A small two-class table: 160 rows, two numeric features (one informative) and a category. */
function smallCsv(file: string): void {
  const rows = ['x1,x2,colour,label'];
  for (let i = 0; i < 160; i++) {
    const label = i % 2;
    rows.push(
      `${((label ? 2 : -2) + ((i * 37) % 17) / 8 - 1).toFixed(3)},${((i * 13) % 11).toFixed(1)},${['red', 'green', 'blue'][i % 3]},${label ? 'good' : 'bad'}`,
    );
  }
  fs.writeFileSync(file, `${rows.join('\n')}\n`);
}

/**
 * The Training view on a real stack (orchestrator, gateway, an engine-capable agent): a dataset
 * profiled, then a small trainer run (1 family, 2 trials, two metrics, holdout) submitted while the
 * page is open. Checks the dataset's profile, the job's row appearing live, a drawn scatter of the
 * trials, the report (held-out metrics, per-class stats, importance bars, data story), axe-core,
 * and saves test/e2e/screenshots/dashboard-training-1366x768.png.
 */
describe("the dashboard's Training view in a real browser", () => {
  const SHOT = path.join(__dirname, 'screenshots', 'dashboard-training-1366x768.png');
  let sys: TestSystem;
  let datasetId: string;
  beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`npm run setup\``);
    sys = await startTestSystem('dash-train', { LEASE_SECONDS: '30', REAPER_INTERVAL_MS: '500' });
    const csv = path.join(sys.work, 'small.csv');
    smallCsv(csv);
    await sys.storageAs('provider').uploadFile('data', 'dash-small', csv, { contentType: 'text/csv' });
    datasetId = (await sys.o.call('provider', 'POST', '/v1/datasets', { name: 'small table', storage_uuid: 'dash-small', format: 'csv' })).body.dataset_id;
    await waitFor(async () => ((await sys.o.call('provider', 'GET', `/v1/datasets/${datasetId}`)).body.status === 'ready' ? true : undefined), 60_000);
  }, 120_000);
  afterAll(async () => sys?.cleanup());

  test('datasets with their profile, a trainer job live from its events, its trials drawn, the report with importance bars; no accessibility violation', async () => {
    const child = spawn(process.execPath, [path.join(__dirname, 'dashboard-training-driver.mjs'), sys.o.url, TEST_KEYS.provider.key, datasetId, SHOT], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const steps = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => {
      const line = await steps.next();
      if (line.done) throw new Error(`the browser driver stopped: ${stderr}`);
      return JSON.parse(line.value);
    };
    try {
      const loaded = await next();
      expect(loaded.dataset).toEqual(['small table', datasetId, 'ready', '160', '4']);
      expect(loaded.profileTitle).toBe('Profile of small table (160 rows)');
      expect(loaded.profile.map((r: string[]) => r.slice(0, 4))).toEqual([
        ['x1', 'numeric', '0', expect.any(String)],
        ['x2', 'numeric', '0', '11'],
        ['colour', 'category', '0', '3'],
        ['label', 'category', '0', '2'],
      ]);
      expect(loaded.jobs).toBe(0);

      const run = await sys.o.call('provider', 'POST', '/v1/trainer/run', {
        dataset_id: datasetId,
        task: { label_column: 'label', task_kind: 'classification' },
        model_types: ['decision_tree'],
        metrics: ['accuracy', 'log_loss'],
        n_trials: 2,
      });
      expect(run.status).toBe(201);
      child.stdin.write(`${run.body.job_id}\n`);
      const seen = await next();
      expect(seen.sameDocument).toBe(true);
      expect(seen.jobRow).toEqual([run.body.job_id, datasetId, 'label (classification)', 'decision_tree', 'accuracy, log_loss', 'completed']);
      expect(seen.pressed).toBe('true');
      expect(seen.summary).toMatch(/^completed · trials 2\/2 · decision_tree · metrics accuracy, log_loss/);
      expect(seen.scatterLabel).toMatch(/^Trials by accuracy and log_loss: 2 trials done, [12] on the Pareto front/);
      expect(seen.pixels.scatter).toBeGreaterThan(500);
      expect(seen.pixels.best).toBeGreaterThan(500);
      expect(seen.reportTitle).toBe(`Final model ${run.body.job_id}-model (refit, decision_tree)`);
      expect(seen.heldout).toEqual(['accuracy', 'log_loss']);
      expect(seen.statsHead.slice(0, 2)).toEqual(['class', 'count']);
      expect(seen.stats.map((r: string[]) => r[0]).sort()).toEqual(['bad', 'good']);
      expect(seen.importance.map((b: { field: string }) => b.field).sort()).toEqual(['colour', 'x1', 'x2']);
      expect(seen.importance[0].field).toBe('x1');
      expect(seen.importance[0].width).toBeGreaterThan(20);
      expect(seen.importance[0].label).toMatch(/^x1: [\d.]+ % of the importance$/);
      expect(seen.story.length).toBeGreaterThan(0);

      const done = await next();
      expect(done.violations).toEqual([]);
      expect(done.consoleErrors).toEqual([]);
      expect(fs.statSync(SHOT).size).toBeGreaterThan(10_000);
    } finally {
      child.stdin.end();
      child.kill();
    }
  }, 300_000);
});
