// Drives Debian's Chromium (puppeteer-core) through the dashboard's Training view for
// test/e2e/dashboard-browser.test.ts. Protocol: one JSON line per step on stdout. After "loaded"
// it reads a line on stdin: the id of the job the test has just submitted; the job's row must then
// appear without a reload (from the job.* events), and once completed its charts and report drawn.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const [url, key, datasetId, screenshot] = process.argv.slice(2);
const emit = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-chromium-'));

const browser = await puppeteer.launch({
  executablePath: process.env.UPLET_CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--headless',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    `--user-data-dir=${profile}`,
    '--window-size=1366,768',
  ],
  defaultViewport: { width: 1366, height: 768 },
});
const painted = (page, id) =>
  page.$eval(id, (canvas) => {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return n;
  });
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.setBypassCSP(true);
  await page.goto(`${url}/dashboard/?poll=60000`, { waitUntil: 'networkidle0' });
  await page.type('#api-key', key);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`#datasets tbody tr[data-dataset="${datasetId}"]`, { visible: true });
  await page.waitForFunction(() => document.body.dataset.stream === 'open');
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const loaded = await page.evaluate(
    (id) => ({
      dataset: [...document.querySelector(`#datasets tr[data-dataset="${id}"]`).cells].map((c) => c.textContent),
      profileTitle: document.getElementById('profile-title').textContent,
      profile: [...document.querySelectorAll('#profile tbody tr')].map((r) => [...r.cells].map((c) => c.textContent)),
      jobs: document.querySelectorAll('#jobs tbody tr[data-job]').length,
    }),
    datasetId,
  );
  emit({ step: 'loaded', ...loaded });

  const jobId = (await lines.next()).value.trim();
  // The row appears from the job's events (polling is once a minute here), in the same document.
  await page.waitForSelector(`#jobs tbody tr[data-job="${jobId}"]`, { timeout: 15000 });
  const appeared = await page.evaluate(() => ({ sameDocument: window.__sameDocument === true }));
  await page.waitForSelector(`#jobs tbody tr[data-job="${jobId}"][data-status="completed"]`, { timeout: 240000 });
  await page.waitForFunction(() => !document.getElementById('report').hidden && document.querySelectorAll('#importance li').length > 0, { timeout: 15000 });
  // Keyboard: the job's button is reachable and pressed.
  await page.focus(`#jobs tr[data-job="${jobId}"] button`);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#importance li').length > 0);
  const seen = await page.evaluate(
    (id) => ({
      jobRow: [...document.querySelector(`#jobs tr[data-job="${id}"]`).cells].map((c) => c.textContent),
      pressed: document.querySelector(`#jobs tr[data-job="${id}"] button`).getAttribute('aria-pressed'),
      summary: document.getElementById('job-summary').textContent,
      scatterLabel: document.getElementById('trials-chart').getAttribute('aria-label'),
      reportTitle: document.getElementById('report-title').textContent,
      heldout: [...document.querySelectorAll('#heldout dt')].map((d) => d.textContent),
      stats: [...document.querySelectorAll('#stats tbody tr')].map((r) => [...r.cells].map((c) => c.textContent)),
      statsHead: [...document.querySelectorAll('#stats thead th')].map((c) => c.textContent),
      importance: [...document.querySelectorAll('#importance li')].map((li) => ({
        field: li.dataset.field,
        width: li.querySelector('.bar').getBoundingClientRect().width,
        label: li.querySelector('.bar-track').getAttribute('aria-label'),
      })),
      story: [...document.querySelectorAll('#story li')].map((li) => li.textContent),
    }),
    jobId,
  );
  const pixels = { scatter: await painted(page, '#trials-chart'), best: await painted(page, '#best-chart') };
  emit({ step: 'trained', ...appeared, ...seen, pixels });

  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const violations = await page.evaluate(async () =>
    (await window.axe.run(document)).violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    })),
  );
  await page.evaluate(() => document.getElementById('job-detail').scrollIntoView());
  fs.mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, type: 'png' });
  emit({ step: 'done', violations, consoleErrors });
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
