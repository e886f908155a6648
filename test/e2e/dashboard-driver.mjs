// Drives Debian's Chromium (puppeteer-core) through the dashboard for test/e2e/dashboard-browser.test.ts.
// A separate process because puppeteer-core is an ES module that jest's module system does not load.
// Protocol: one JSON line per step on stdout; after "loaded" it waits for a line on stdin (the test
// has changed the data), then checks the page updated without a reload.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createRequire } from 'node:module';
import puppeteer from 'puppeteer-core';

const require = createRequire(import.meta.url);
const [url, goodKey, badKey, screenshot, algo] = process.argv.slice(2);
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
try {
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // axe is injected by the test, not served by the page: let the injection pass the page's CSP.
  await page.setBypassCSP(true);
  // Polling only once a minute: the live update below can come only from the event stream.
  await page.goto(`${url}/dashboard/?poll=60000`, { waitUntil: 'networkidle0' });

  // Keyboard first: Tab reaches the skip link, then the key field is focusable and labelled.
  await page.keyboard.press('Tab');
  const firstFocus = await page.evaluate(() => document.activeElement?.textContent?.trim());

  // A refused key says so, in an alert region.
  await page.type('#api-key', badKey);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('login-error').textContent.length > 0);
  const refusal = await page.$eval('#login-error', (e) => e.textContent);

  await page.type('#api-key', goodKey);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.chain[data-algo="${algo}"] .cell`, { visible: true });
  await page.waitForFunction(() => document.querySelectorAll('#leaderboard tbody tr').length > 0);
  await page.waitForFunction(() => document.body.dataset.stream === 'open');
  await page.waitForFunction(() => document.querySelectorAll('#sites li').length > 0);
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const seen = await page.evaluate(() => ({
    chains: [...document.querySelectorAll('.chain')].map((c) => ({
      algo: c.dataset.algo,
      title: c.querySelector('h3').textContent,
      cells: [...c.querySelectorAll('.cell')].map((x) => ({ rank: Number(x.dataset.rank), status: x.dataset.status, label: x.getAttribute('aria-label') })),
    })),
    leaderboard: [...document.querySelectorAll('#leaderboard tbody tr')].map((r) => [...r.cells].map((c) => c.textContent)),
    predictions: [...document.querySelectorAll('#predictions tbody tr')].map((r) => [...r.cells].map((c) => c.textContent)),
    keyInStorage: sessionStorage.getItem('uplet.apiKey') !== null,
    sites: [...document.querySelectorAll('#sites li')].map((li) => li.textContent),
  }));
  // A chart was drawn: the canvas has painted pixels.
  const painted = await page.$eval('#curve', (canvas) => {
    const ctx = canvas.getContext('2d');
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return { painted: n, width: canvas.width, height: canvas.height };
  });
  emit({ step: 'loaded', firstFocus, refusal, seen, painted });

  await lines.next(); // the test has finished another rank
  const doneBefore = seen.chains.find((c) => c.algo === algo).cells.filter((c) => c.status === 'done').length;
  await page.waitForFunction(
    (a, n) => document.querySelectorAll(`.chain[data-algo="${a}"] .cell[data-status="done"]`).length > n,
    { timeout: 15000 },
    algo,
    doneBefore,
  );
  const live = await page.evaluate(
    (a) => ({
      sameDocument: window.__sameDocument === true,
      liveText: document.getElementById('live').textContent,
      done: document.querySelectorAll(`.chain[data-algo="${a}"] .cell[data-status="done"]`).length,
    }),
    algo,
  );
  emit({ step: 'live', ...live });

  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const violations = await page.evaluate(async () =>
    (await window.axe.run(document)).violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    })),
  );
  fs.mkdirSync(path.dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, type: 'png' });
  emit({ step: 'done', violations, consoleErrors });
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
