import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { startTestOrchestrator, TEST_KEYS, type TestOrchestrator } from '../harness/orchestrator-fixture';

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
    const done = await t.call('compute', 'POST', `/learndone/${l.uuid}`, { status: 'done', perf, train_perf: {}, test_perf: {}, lease_token: claim.body.lease.token });
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
    const child = spawn(process.execPath, [path.join(__dirname, 'dashboard-driver.mjs'), t.url, TEST_KEYS.reader.key, 'wrong-key-00000000000000', SCREENSHOT, 'logreg'], { stdio: ['pipe', 'pipe', 'pipe'] });
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
