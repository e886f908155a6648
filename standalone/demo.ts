import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packArchive } from './pack-archive';
import { ConfigError, DependencyUnavailableError } from '../shared/errors/uplet-error';
import { UpletApiError, UpletClient } from '../shared/sdk';
import { createLogger } from '../shared/logging/logger';
import { renderProgress, type ChainRow } from './demo-progress';
import type { KeyEntry } from './local-infrastructure';
import { startStandalone, type Standalone } from './standalone';
import { readAccessLog } from '../storage-gateway/access/access-log';

/**
 * `npm run demo`: a real federated training run on embedded defaults. Three
 * hospitals hold the breast-cancer data, two algos travel to it, every chain
 * runs to its end in the sandbox, and the best model predicts held-out data.
 */
interface ManifestItem {
  uuid: string;
  role: 'train' | 'test' | 'predict';
  provider: string;
  file: string;
}

const EXAMPLE = path.resolve(__dirname, '../../compute-agent/examples/breast-cancer');
const PROBLEM = 'breast-cancer';
/** Each hospital is a site: its data stays at its gateway and is computed on by its own agent. */
const HOSPITALS = ['hospital-a', 'hospital-b', 'hospital-c'];
const ALGOS = [
  { uuid: 'bc-logreg', name: 'logistic regression (Python)', dir: 'algo-logreg' },
  { uuid: 'bc-mlp', name: 'multilayer perceptron (Node.js)', dir: 'algo-mlp' },
];

async function main(): Promise<void> {
  const started = Date.now();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-demo-'));
  const logger = createLogger({ service: 'demo', level: process.env.LOG_LEVEL ?? 'warn', format: 'pretty' });
  say('uplet demo: starting the orchestrator, and three hospitals as three sites, each with its own storage gateway and compute agent (standalone mode)…');
  const system = await startStandalone({
    dataDir,
    ephemeral: true,
    logger,
    logFormat: 'pretty',
    log: (l) => say(`  ${l}`),
    ports: { orchestrator: 0, storage: 0 },
    sites: HOSPITALS,
    // Short heartbeats: a site whose agent stops is seen without a live agent within 3 s.
    env: { ...process.env, HEARTBEAT_INTERVAL_MS: process.env.HEARTBEAT_INTERVAL_MS ?? '1000' },
  });
  let interrupted = false;
  process.once('SIGINT', () => {
    interrupted = true;
    say('\ninterrupted: stopping everything…');
  });
  try {
    say(`  database: ${system.infra.mongoDescription}`);
    say(`  orchestrator ${system.orchestrator.url}, the organizer's storage gateway (site default) ${system.storage.url}`);
    for (const site of system.sites) say(`  site ${site.site}: its own gateway ${site.storage.url} and its own agent`);
    await run(system, say, () => interrupted, started);
    await showDashboard(system, say, () => interrupted);
  } finally {
    await system.close();
    say(`stopped cleanly after ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  }
}

/**
 * Where to look at the run in a browser; with `npm run demo -- --serve` everything keeps
 * running (the dashboard stays live) until Ctrl-C.
 */
async function showDashboard(system: Standalone, say: (l: string) => void, interrupted: () => boolean): Promise<void> {
  say(`\nDashboard: ${system.orchestrator.url}/dashboard/  (sign in with the analyst key: ${system.infra.apiKeys.analyst.key})`);
  say(`API docs:  ${system.orchestrator.url}/docs/  ·  storage gateway: ${system.storage.url}/docs/`);
  if (!process.argv.includes('--serve')) return void say('(npm run demo -- --serve keeps it all running until Ctrl-C)');
  say('serving until Ctrl-C…');
  while (!interrupted()) await new Promise((r) => setTimeout(r, 250));
}

async function run(system: Standalone, say: (l: string) => void, interrupted: () => boolean, started: number): Promise<void> {
  const keys = system.infra.apiKeys;
  const manifest = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'manifest.json'), 'utf8')) as { items: ManifestItem[] };
  const api = <T = Record<string, unknown>>(key: KeyEntry, method: string, p: string, body?: unknown) =>
    callApi<T>(system.orchestrator.url, key, method, p, body);
  const analystGet: Get = (p) => api(keys.analyst, 'GET', p);
  // The SDK's client for each principal, at the gateway of its site.
  const storageAs = (k: KeyEntry, site?: string) =>
    new UpletClient({
      orchestratorUrl: system.orchestrator.url,
      storageUrl: system.sites.find((x) => x.site === site)?.storage.url ?? system.storage.url,
      apiKey: k.key,
    }).storage;
  const providerKey = (name: string) => keys.providers.find((p) => p.name === name)!;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-demo-archives-'));

  try {
    say('\n1. The organizer posts the problem and its workflow (detarget + score: accuracy, log-loss).');
    await packArchive(path.join(EXAMPLE, 'workflow'), path.join(scratch, 'workflow.tar.gz'));
    await storageAs(keys.organizer).uploadFile('workflow', 'bc-workflow', path.join(scratch, 'workflow.tar.gz'), { contentType: 'application/gzip' });
    const test = manifest.items.filter((i) => i.role === 'test');
    const sizeTrain = 2;
    await api(keys.organizer, 'POST', '/problem', {
      uuid: PROBLEM,
      workflow: 'bc-workflow',
      test_dataset: test.map((i) => i.uuid),
      size_train_dataset: sizeTrain,
    });
    say(`   problem "${PROBLEM}": test set of ${test.length} items, minibatches of ${sizeTrain} data items`);

    say('2. Algo authors post two algos that learn incrementally from the previous model.');
    for (const algo of ALGOS) {
      await packArchive(path.join(EXAMPLE, algo.dir), path.join(scratch, `${algo.uuid}.tar.gz`));
      await storageAs(keys.author).uploadFile('algo', algo.uuid, path.join(scratch, `${algo.uuid}.tar.gz`), { contentType: 'application/gzip' });
      await api(keys.author, 'POST', '/algo', { uuid: algo.uuid, name: algo.name, problem: PROBLEM });
      say(`   ${algo.name}`);
    }

    say("3. hospital-b's agent stops: its site has no live agent, so its ranks will wait (nothing runs elsewhere).");
    await system.stopSiteAgent('hospital-b');
    for (let i = 0; i < 50; i++) {
      const sites = (await analystGet('/sites')).sites as Array<{ name: string; live_agents: unknown[] }>;
      if (sites.find((x) => x.name === 'hospital-b')?.live_agents.length === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    say('   GET /sites: hospital-b has no live agent');
    say("   Three hospitals upload their data to their own site's gateway (it never leaves the site) and register it there.");
    for (const provider of keys.providers) {
      const items = manifest.items.filter((i) => i.provider === provider.name && i.role !== 'predict');
      for (const i of items) await storageAs(provider, provider.name).uploadFile('data', i.uuid, path.join(EXAMPLE, i.file), { contentType: 'text/csv' });
      const reply = await api<{ new_learnuplets: number }>(provider, 'POST', '/data', {
        uuid: items.map((i) => i.uuid),
        problems: PROBLEM,
        site: provider.name,
      });
      say(`   ${provider.name}: ${items.length} items at site ${provider.name} → ${reply.new_learnuplets} new learnuplets`);
    }
    const predictItems = manifest.items.filter((i) => i.role === 'predict');
    for (const i of predictItems)
      await storageAs(providerKey(i.provider), i.provider).uploadFile('data', i.uuid, path.join(EXAMPLE, i.file), { contentType: 'text/csv' });

    say('4. Each rank runs at the site whose data it trains on (its agent only); the model travels from site to site:\n');
    // Once hospital-b's ranks have waited visibly for a while, a new agent of hospital-b starts and the chains resume.
    let restarted = false;
    const rows = await watchChains(analystGet, say, interrupted, started, async (waitingSince) => {
      if (restarted || Date.now() - waitingSince < 3_000) return;
      restarted = true;
      await system.startSiteAgent('hospital-b', 'agent-hospital-b-2');
      say('   a new agent of hospital-b started: its ranks run, the chains resume.');
    });
    if (interrupted()) return;

    say('\n5. Leaderboard');
    const board = await api<{ leaderboard: LeaderboardRow[] }>(keys.analyst, 'GET', `/problem/${PROBLEM}/leaderboard`);
    for (const [i, r] of board.leaderboard.entries()) {
      say(
        `   ${i + 1}. ${String(r.name).padEnd(32)} best test accuracy ${Number(r.best_perf).toFixed(3)} at rank ${r.rank} (${r.ranks} ranks, ${r.by_status.done ?? 0} done)`,
      );
    }
    const first = rows.map((r) => r.perfs.find((p) => p !== null) ?? NaN);
    say(`   accuracy rose from rank 0 (${first.map((p) => p.toFixed(3)).join(', ')}) to the best above: the chains learned from each hospital's data in turn.`);

    say('\n6. The hospitals holding held-out data request predictions on it with the best model.');
    // Predictions name only the requester's own data, registered to no problem (so it never trains).
    const requested: string[] = [];
    for (const owner of [...new Set(predictItems.map((i) => i.provider))]) {
      const mine = predictItems.filter((i) => i.provider === owner).map((i) => i.uuid);
      await api(providerKey(owner), 'POST', '/data', { uuid: mine, problems: [], site: owner });
      requested.push(...(await api<{ preduplets: string[] }>(providerKey(owner), 'POST', '/prediction', { data: mine, problem: PROBLEM })).preduplets);
    }
    const done = await waitForPreduplets(analystGet, requested, interrupted);
    let correct = 0;
    let total = 0;
    for (const p of done) {
      if (p.status !== 'done') {
        say(`   ${p.data}: ${p.status} (${p.failure_reason})`);
        continue;
      }
      const file = path.join(scratch, `${p.data}.predictions.csv`);
      const owner = manifest.items.find((i) => i.uuid === p.data)!.provider;
      await storageAs(providerKey(owner), owner).downloadToFile('prediction', p.prediction_storage_uuid, file);
      const probabilities = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1).map(Number);
      // The labels are the hospital's own, kept aside: here the demo plays that hospital checking the result.
      const item = manifest.items.find((i) => i.uuid === p.data)!;
      const labels = fs
        .readFileSync(path.join(EXAMPLE, item.file), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => Number(l.split(',').pop()));
      const ok = labels.filter((y, i) => (probabilities[i]! >= 0.5 ? 1 : 0) === y).length;
      correct += ok;
      total += labels.length;
      say(`   ${p.data}: ${labels.length} predictions downloaded, accuracy ${(ok / labels.length).toFixed(3)} (model of ${p.algo})`);
    }
    if (total > 0) say(`   held-out accuracy ${(correct / total).toFixed(3)} (majority class alone: 0.627)`);

    say("\n7. Proof from the gateways' access logs: who read which blob, with the capability of which site.");
    const testSet = new Set(manifest.items.filter((i) => i.role === 'test').map((i) => i.uuid));
    let foreignReads = 0;
    let modelMoves = 0;
    for (const site of system.sites) {
      const log = site.storage.accessLogFile ? readAccessLog(site.storage.accessLogFile) : [];
      const dataReads = log.filter((e) => e.action === 'read' && e.kind === 'data' && e.status === 200);
      const own = dataReads.filter((e) => e.capability_site === site.site).length;
      const evalReads = dataReads.filter((e) => e.capability_site !== site.site && testSet.has(e.uuid)).length;
      const foreign = dataReads.filter((e) => e.capability_site !== site.site && !testSet.has(e.uuid));
      foreignReads += foreign.length;
      const models = log.filter((e) => e.action === 'read' && e.kind === 'model' && e.status === 200 && e.capability_site !== site.site);
      modelMoves += models.length;
      say(
        `   ${site.site}: ${own} data reads by its own agent, ${evalReads} reads of its test items (the evaluation set) by other sites, ${foreign.length} reads of its data by another hospital; ${models.length} of its models fetched by other sites`,
      );
    }
    say(
      foreignReads === 0
        ? `   no hospital's train or prediction data was read by another hospital's agent, while models moved between sites ${modelMoves} times.`
        : `   VIOLATION: ${foreignReads} reads of a hospital's data by another hospital's agent`,
    );
    if (foreignReads > 0) process.exitCode = 1;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

type Get = <T = Record<string, unknown>>(path: string) => Promise<T>;

/** What the demo reads of the API's documents (the SDK's types cover the rest). */
interface LeaderboardRow {
  name: string;
  best_perf: number;
  rank: number;
  ranks: number;
  by_status: Record<string, number | undefined>;
}
interface AlgoRow {
  uuid: string;
  name: string;
}
interface LearnupletRow {
  algo: string;
  rank: number;
  status: string;
  perf: number | null;
  site?: string;
}
interface PredupletRow {
  data: string;
  algo: string;
  status: string;
  failure_reason: string | null;
  prediction_storage_uuid: string;
}

/** A JSON call to the orchestrator through the SDK, with one principal's key; a refusal stops the demo with its code and message. */
async function callApi<T>(baseUrl: string, key: KeyEntry, method: string, p: string, body?: unknown): Promise<T> {
  const client = new UpletClient({ orchestratorUrl: baseUrl, apiKey: key.key });
  return method === 'GET' ? client.get<T>(p) : client.post<T>(p, body);
}

async function watchChains(
  get: Get,
  say: (l: string) => void,
  interrupted: () => boolean,
  started: number,
  whileWaiting?: (since: number) => Promise<void>,
): Promise<ChainRow[]> {
  const tty = process.stdout.isTTY;
  let lastDrawn = '';
  let lastPrinted = 0;
  let waitingSince: number | undefined;
  let lastWaiting = '';
  for (;;) {
    const [algos, uplets, problem] = await Promise.all([
      get<{ algos: AlgoRow[] }>(`/algo?problem=${PROBLEM}`),
      get<{ learnuplets: LearnupletRow[] }>(`/learnuplet?problem=${PROBLEM}&limit=1000`),
      get(`/problem/${PROBLEM}`),
    ]);
    const rows: ChainRow[] = algos.algos.map((a) => {
      const chain = uplets.learnuplets.filter((l) => l.algo === a.uuid).sort((x, y) => x.rank - y.rank);
      return {
        algo: a.uuid,
        name: a.name,
        statuses: chain.map((l) => l.status),
        perfs: chain.map((l) => (l.status === 'done' ? l.perf : null)),
        sites: chain.map((l) => String(l.site ?? 'default')),
      };
    });
    const finished = rows.every((r) => r.statuses.every((s) => ['done', 'failed', 'canceled'].includes(s)));
    const waiting = ((problem.waiting_for ?? []) as Array<{ message: string; rank: number; algo: string }>).map(
      (w) => `rank ${w.rank} of ${w.algo}: ${w.message}`,
    );
    const frame = renderProgress(rows, (Date.now() - started) / 1000, waiting);
    if (waiting.length > 0) {
      waitingSince ??= Date.now();
      await whileWaiting?.(waitingSince);
    }
    if (tty) {
      if (lastDrawn) process.stdout.write(`\x1b[${lastDrawn.split('\n').length}A\x1b[0J`);
      process.stdout.write(`${frame}\n`);
      lastDrawn = frame;
    } else if (finished || Date.now() - lastPrinted > 3_000 || waiting.join() !== lastWaiting) {
      say(frame);
      lastPrinted = Date.now();
    }
    lastWaiting = waiting.join();
    if (finished || interrupted()) return rows;
    await new Promise((r) => setTimeout(r, 400));
  }
}

async function waitForPreduplets(get: Get, uuids: string[], interrupted: () => boolean): Promise<PredupletRow[]> {
  for (;;) {
    const docs = await Promise.all(uuids.map((u) => get<PredupletRow>(`/preduplet/${u}`)));
    if (docs.every((d) => ['done', 'failed', 'canceled'].includes(d.status)) || interrupted()) return docs;
    await new Promise((r) => setTimeout(r, 300));
  }
}

main().catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof DependencyUnavailableError || err instanceof UpletApiError;
  process.stderr.write(`demo failed: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
