import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as amqp from 'amqplib';
import { connectMongo, describeServer } from '../../shared/db/mongo-connection';
import { startLocalMongoServer, type LocalMongoServer } from '../../standalone/local-db/local-mongo-server';
import { benchAkkioTier } from './akkio-bench';
import { benchClaimCycle } from './claim-cycle-bench';
import { benchGeneration } from './generation-bench';
import { benchGrowth, ferretGinIndexes } from './growth-bench';
import { benchDispatch } from './dispatch-bench';
import { benchEndToEnd } from './end-to-end-bench';
import { benchList } from './list-bench';
import { benchStorage } from './storage-bench';
import { benchTrainerRun } from './trainer-bench';
import { benchWarmTrials } from './warm-trials-bench';
import { round } from './bench-stats';

/**
 * `npm run bench` (or `npm run bench -- --quick`): each scenario beside its
 * baseline, measured in the same run on the same machine; a table on stdout and
 * the figures as JSON in test/bench/results/latest.json.
 */
interface Row {
  scenario: string;
  measure: string;
  uplet: string;
  baseline: string;
  baselineName: string;
  ratio: string;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Every scenario, in the order a run takes them. */
const SCENARIOS = ['claim', 'generation', 'dispatch', 'e2e', 'list', 'growth', 'storage', 'trainer', 'train-new', 'warm-trials'];

/** Where a scenario run as a child of a whole run writes its rows and results (the parent prints and stores them). */
const CHILD_OUTPUT = 'UPLET_BENCH_CHILD_OUTPUT';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = process.argv
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  if (!only && process.env.UPLET_BENCH_ONE_PROCESS !== '1') return runEachInItsOwnProcess(quick);
  const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

  let server: LocalMongoServer | undefined;
  let mongoUrlFor: (db: string) => string;
  if (process.env.MONGO_URL) {
    const base = new URL(process.env.MONGO_URL);
    mongoUrlFor = (db) => {
      const u = new URL(base.toString());
      u.pathname = `/${db}`;
      return u.toString();
    };
  } else {
    server = await startLocalMongoServer({
      dataDir: path.join(os.tmpdir(), 'uplet-bench'),
      log,
      skipMemoryServer: process.env.UPLET_SKIP_MEMORY_SERVER === '1',
    });
    mongoUrlFor = (db) => server!.urlFor(db);
  }
  // On FerretDB over PostgreSQL every scenario runs with the orchestrator's equality indexes (UPLET_BENCH_NO_GIN=1: without).
  if (server?.ferret?.backend.kind === 'postgresql' && process.env.UPLET_BENCH_NO_GIN !== '1') process.env.UPLET_BENCH_FERRET_PG = server.ferret.backend.url;
  const probe = await connectMongo(mongoUrlFor('bench_probe'), { maxPoolSize: 1 });
  const database = await describeServer(probe.db);
  await probe.close();
  const conn = await amqp.connect(amqpUrl);
  const brokerVersion = String((conn.connection.serverProperties as { version?: string }).version ?? 'unknown');
  await conn.close();

  const environment = {
    date: new Date().toISOString(),
    database,
    broker: `RabbitMQ ${brokerVersion}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    quick,
    note: database.startsWith('FerretDB')
      ? 'FerretDB is not MongoDB: it scans where MongoDB uses an index and serializes updates through PostgreSQL; figures dominated by the database are FerretDB figures. Set MONGO_URL to run against a real mongod.'
      : undefined,
  };
  log(`environment: ${JSON.stringify(environment)}`);

  const rows: Row[] = [];
  const results: Record<string, unknown> = {};
  const want = (name: string) => {
    if (!SCENARIOS.includes(name)) throw new Error(`scenario ${name} is not in SCENARIOS: a whole run would skip it`);
    return !only || only.includes(name);
  };

  try {
    if (want('claim')) {
      const uplets = quick ? 200 : 1000;
      for (const workers of quick ? [8] : [1, 8, 16]) {
        log(`claim cycle: ${uplets} uplets, ${workers} workers`);
        const r = await benchClaimCycle(mongoUrlFor, amqpUrl, uplets, workers);
        results[`claim_cycle_${workers}w`] = r;
        rows.push({
          scenario: `claim→heartbeat→report, ${workers} workers`,
          measure: 'cycles/s (p50/p99 ms)',
          uplet: `${round(r.orchestrator.perSecond, 0)} (${round(r.orchestrator.p50Ms, 1)}/${round(r.orchestrator.p99Ms, 1)})`,
          baselineName: 'raw driver, same state changes',
          baseline: `${round(r.rawDriver.perSecond, 0)} (${round(r.rawDriver.p50Ms, 1)}/${round(r.rawDriver.p99Ms, 1)})`,
          ratio: `${round(r.ratio)}×`,
        });
      }
    }
    if (want('generation')) {
      const dataItems = quick ? 10_000 : 100_000;
      log(`generation: ${dataItems} data items, 10 algos, minibatches of 10`);
      const r = await benchGeneration(mongoUrlFor, dataItems, 10, 10);
      results.generation = r;
      rows.push({
        scenario: `POST /data ${dataItems} items, 10 algos → ${r.learnuplets} learnuplets`,
        measure: 'seconds',
        uplet: `${round(r.upletSeconds)}`,
        baselineName: 'raw insertMany of the same learnuplets',
        baseline: `${round(r.rawInsertSeconds)}`,
        ratio: `${round(r.ratio)}×`,
      });
      rows.push({
        scenario: `list learnuplets (filter + page of 100) in ${r.listCollectionSize}`,
        measure: 'ms p50 / deep page',
        uplet: `${round(r.listP50Ms, 1)} / ${round(r.listDeepPageMs, 1)}`,
        baselineName: '—',
        baseline: '—',
        ratio: '—',
      });
    }
    if (want('dispatch')) {
      const samples = quick ? 30 : 200;
      log(`dispatch: ${samples} samples, one idle agent`);
      const r = await benchDispatch(mongoUrlFor, amqpUrl, samples);
      results.dispatch = r;
      rows.push({
        scenario: 'dispatch: todo → an idle agent holds it',
        measure: 'p50 / p99 ms',
        uplet: `${round(r.uplet.p50Ms, 1)} / ${round(r.uplet.p99Ms, 1)}`,
        baselineName: 'amqplib publish (confirmed) → consume',
        baseline: `${round(r.rawAmqp.p50Ms, 1)} / ${round(r.rawAmqp.p99Ms, 1)}`,
        ratio: `${round(r.uplet.p50Ms / r.rawAmqp.p50Ms, 1)}× slower (p50)`,
      });
    }
    if (want('e2e')) {
      const tasks = quick ? 40 : 200;
      log(`end to end: ${tasks} no-op preduplets, 2 workers`);
      const r = await benchEndToEnd(mongoUrlFor, amqpUrl, process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', tasks, 2);
      results.end_to_end = r;
      rows.push({
        scenario: `no-op tasks end to end, ${r.workers} workers`,
        measure: 'tasks/s',
        uplet: `${round(r.upletTasksPerSecond, 1)}`,
        baselineName: `raw fence claim cycle, ${r.workers} workers, same preduplets (goal ≥ 0.8×)`,
        baseline: `${round(r.rawFenceCyclesPerSecond, 1)}`,
        ratio: `${round(r.upletTasksPerSecond / r.rawFenceCyclesPerSecond)}×`,
      });
      rows.push({
        scenario: `no-op tasks end to end, ${r.workers} workers (context)`,
        measure: 'tasks/s',
        uplet: `${round(r.upletTasksPerSecond, 1)}`,
        baselineName: 'BullMQ on local Redis, no-op job',
        baseline: `${round(r.bullmqJobsPerSecond, 0)}`,
        ratio: `${round(r.upletTasksPerSecond / r.bullmqJobsPerSecond, 4)}×`,
      });
      rows.push({
        scenario: 'one sandboxed spawn (bwrap+setpriv+prlimit /bin/true)',
        measure: 'p50 / p99 ms',
        uplet: `${round(r.sandboxSpawn.p50Ms, 1)} / ${round(r.sandboxSpawn.p99Ms, 1)}`,
        baselineName: `${r.spawnsPerTask} spawns per no-op task`,
        baseline: `${round(1000 / (r.sandboxSpawn.p50Ms * r.spawnsPerTask), 1)} tasks/s if spawns were all`,
        ratio: '—',
      });
    }
    if (want('list')) {
      const count = quick ? 100_000 : 1_000_000;
      log(`list: ${count} learnuplets`);
      const r = await benchList(mongoUrlFor, amqpUrl, count, log);
      results.list = r;
      rows.push({
        scenario: `GET /learnuplet filter + page in ${count}`,
        measure: 'ms first page p50 / deep page',
        uplet: `${round(r.httpFirstPageP50Ms, 0)} / ${round(r.httpDeepPageMs, 0)}`,
        baselineName: 'raw driver, same query',
        baseline: `${round(r.rawFirstPageP50Ms, 0)} / ${round(r.rawDeepPageMs, 0)}`,
        ratio: `${round(r.rawFirstPageP50Ms / r.httpFirstPageP50Ms)}×`,
      });
      if (r.withoutGin)
        rows.push({
          scenario: `  the same in ${count}, GIN indexes (after) against none (before)`,
          measure: 'ms first page p50 / deep page',
          uplet: `${round(r.httpFirstPageP50Ms, 0)} / ${round(r.httpDeepPageMs, 0)}`,
          baselineName: 'GET /learnuplet without the GIN indexes',
          baseline: `${round(r.withoutGin.httpFirstPageP50Ms, 0)} / ${round(r.withoutGin.httpDeepPageMs, 0)}`,
          ratio: `${round(r.withoutGin.httpFirstPageP50Ms / r.httpFirstPageP50Ms)}× faster (first page)`,
        });
    }
    if (want('growth')) {
      // Quick mode uses smaller databases (1k/10k data, 1k/10k/50k uplets) and says so in the table.
      // UPLET_GROWTH_DATA / UPLET_GROWTH_UPLETS (comma-separated) override the sizes; UPLET_BENCH_NO_GIN=1 measures without the GIN indexes.
      const sizes = (env: string | undefined, fallback: number[]) => (env ? env.split(',').map(Number) : fallback);
      const dataSizes = sizes(process.env.UPLET_GROWTH_DATA, quick ? [1_000, 10_000] : [1_000, 10_000, 100_000]);
      const upletSizes = sizes(process.env.UPLET_GROWTH_UPLETS, quick ? [1_000, 10_000, 50_000] : [10_000, 100_000, 1_000_000]);
      const pg = server?.ferret?.backend.kind === 'postgresql' && process.env.UPLET_BENCH_NO_GIN !== '1' ? server.ferret.backend.url : undefined;
      log(
        `growth: POST /data at ${dataSizes.join('/')} data, sweep and reap at ${upletSizes.join('/')} uplets${pg ? ' (GIN indexes added in PostgreSQL)' : ''}`,
      );
      const r = await benchGrowth(mongoUrlFor, amqpUrl, dataSizes, upletSizes, pg ? ferretGinIndexes(pg) : undefined, log);
      results.growth = r;
      const fmt = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1_000 ? `${n / 1_000}k` : String(n));
      const series = (name: string, unit: string, points: typeof r.postData) =>
        rows.push({
          scenario: `${name} at ${points.map((p) => fmt(p.size)).join(' / ')} ${unit}`,
          measure: 'ms p50 at each size',
          uplet: points.map((p) => round(p.p50Ms, 1)).join(' / '),
          baselineName: `same operation at ${fmt(points[0]!.size)} ${unit}`,
          baseline: `${round(points[0]!.p50Ms, 1)}`,
          ratio: points.map((p) => `${round(p.ratioToSmallest)}×`).join(' / '),
        });
      series('single-item POST /data', 'data', r.postData);
      series('one sweeper cycle', 'uplets', r.sweep);
      series('one reaper cycle', 'uplets', r.reap);
    }
    if (want('storage')) {
      const megabytes = quick ? 256 : 1024;
      log(`storage: ${megabytes} MiB`);
      const r = await benchStorage(megabytes, path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..'));
      results.storage = r;
      rows.push({
        scenario: `storage upload ${megabytes} MiB (gateway process, typed client)`,
        measure: 'MB/s (peak RSS MB)',
        uplet: `${round(r.upletUploadMBps, 0)} (${round(r.gatewayPeakRssMB, 0)})`,
        baselineName: 'plain Node HTTP stream to a file (its RSS)',
        baseline: `${round(r.plainHttpUploadMBps, 0)} (${round(r.plainHttpPeakRssMB, 0)})`,
        ratio: `${round(r.upletUploadMBps / r.plainHttpUploadMBps)}×`,
      });
      rows.push({
        scenario: `storage download ${megabytes} MiB`,
        measure: 'MB/s',
        uplet: `${round(r.upletDownloadMBps, 0)}`,
        baselineName: 'plain Node HTTP stream from a file',
        baseline: `${round(r.plainHttpDownloadMBps, 0)}`,
        ratio: `${round(r.upletDownloadMBps / r.plainHttpDownloadMBps)}×`,
      });
      rows.push({
        scenario: `cp of the same ${megabytes} MiB file`,
        measure: 'MB/s',
        uplet: '—',
        baselineName: 'cp on the same disk',
        baseline: `${round(r.copyMBps, 0)}`,
        ratio: `upload ${round(r.upletUploadMBps / r.copyMBps)}×`,
      });
    }
    if (want('trainer')) {
      // UPLET_TRAINER_TRIALS (comma-separated totals) overrides the study sizes.
      const sizes = process.env.UPLET_TRAINER_TRIALS ? process.env.UPLET_TRAINER_TRIALS.split(',').map(Number) : quick ? [12] : [100, 1000];
      log(`trainer run against Optuna alone: ${sizes.join(' and ')} trials, 2 agents`);
      const rs = await benchTrainerRun(
        mongoUrlFor,
        amqpUrl,
        sizes,
        path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..'),
        log,
      );
      results.trainer_run = rs;
      for (const r of rs) {
        const same = r.identical.params && r.identical.scores && r.identical.best && r.identical.testMetrics;
        rows.push({
          scenario: `POST /v1/trainer/run, ${r.trials} trials (2 families, 3 folds), 2 agents`,
          measure: 'seconds (s/trial)',
          uplet: `${round(r.upletSeconds, 1)} (${round(r.upletSecondsPerTrial, 3)})`,
          baselineName: `Optuna + scikit-learn in one process, same rounds and seeds, run before and after uplet (mean); results ${same ? 'identical' : `DIFFER: ${r.identical.firstDifference}`}${r.baselineRepeatsItself ? '' : '; the baseline did NOT repeat itself'}`,
          baseline: `${round(r.baselineSeconds, 1)} (${round(r.baselineSecondsPerTrial, 3)}; ${r.baselineRunsSeconds.map((b) => round(b, 1)).join(' / ')})`,
          ratio: `${round(r.ratio)}× (+${round(r.overheadSecondsPerTrial, 3)} s/trial)`,
        });
      }
    }
    if (want('train-new')) {
      // (tier, predict fields, runs): two fields are two jobs racing one budget, the hardest case of the 10 s tier.
      const cases: Array<[number, number, number]> = quick
        ? [
            [10, 1, 3],
            [10, 2, 2],
          ]
        : [
            [10, 1, 10],
            [10, 2, 5],
            [60, 1, 5],
          ];
      for (const [tier, fields, runs] of cases) {
        log(`train/new: the ${tier} s tier, ${fields} predict field(s), ${runs} runs`);
        const r = await benchAkkioTier(mongoUrlFor, amqpUrl, tier, runs, fields);
        results[`akkio_train_new_${tier}s_${fields}f`] = r;
        for (const p of r.phases) log(`train/new ${tier} s, ${fields} field(s), ms after submit: ${JSON.stringify(p)}`);
        rows.push({
          scenario: `POST /api/v1/models/train/new, ${r.tierSeconds} s tier, ${fields} predict field(s), ${r.runs} runs (submit → SUCCEEDED)`,
          measure: 'p50 / p95 s (all runs)',
          uplet: `${round(r.p50Seconds, 1)} / ${round(r.p95Seconds, 1)} (${r.seconds.map((x) => round(x, 1)).join(', ')})`,
          baselineName: 'the tier (goal: p95 ≤ 1.1×)',
          baseline: `${r.tierSeconds}`,
          ratio: `${round(r.p50Ratio)}× / ${round(r.p95Ratio)}×`,
        });
      }
    }
    if (want('warm-trials')) {
      // Quick: fewer cold trials (each costs seconds and hardly varies), so the scenario stays about a minute.
      const trials = quick ? 10 : 100;
      const coldTrials = quick ? 3 : trials;
      log(`warm-trials: ${trials} warm / ${coldTrials} cold ~1 s trials, one agent slot`);
      const r = await benchWarmTrials(mongoUrlFor, amqpUrl, trials, log, coldTrials);
      results.warm_trials = r;
      const pct = (x: number) => `${round(100 * x, 1)} %`;
      const mean = (o: { fitSeconds: number; trials: number }) => round(o.fitSeconds / o.trials, 2);
      rows.push({
        scenario:
          `${trials} warm / ${coldTrials} cold trials of ${r.rows} x ${r.features} (mean fit+predict ${mean(r.warm)} s warm / ${mean(r.cold)} s cold), 1 slot: ` +
          'overhead (wall − Σ fit)/Σ fit; steady: from the first trial done on, per trial',
        measure: 'overhead (wall s); steady overhead, s per trial',
        uplet: `${pct(r.warm.overhead)} (${round(r.warm.wallSeconds, 1)}) warm; steady ${pct(r.warm.steadyOverhead)}, ${round(r.warm.steadyPerTrialSeconds, 3)} s`,
        baselineName: 'the same trials, a cold sandboxed Python each (goal: warm ≤ 10 %)',
        baseline: `${pct(r.cold.overhead)} (${round(r.cold.wallSeconds, 1)}); steady ${pct(r.cold.steadyOverhead)}, ${round(r.cold.steadyPerTrialSeconds, 3)} s`,
        ratio: `${round(r.warm.wallSeconds / r.warm.trials / (r.cold.wallSeconds / r.cold.trials))}× wall per trial`,
      });
    }
  } finally {
    await server?.stop();
  }

  const childOutput = process.env[CHILD_OUTPUT];
  if (childOutput) {
    fs.writeFileSync(childOutput, JSON.stringify({ environment, rows, results }));
    return;
  }
  report(environment, rows, results, quick);
}

/**
 * A whole run: each scenario in a process of its own, one after another, so none inherits another's
 * heap, caches or database (the trainer run used to follow the 1,000,000-uplet scenarios in the
 * process that had inserted them). The table and the results file are the same as before.
 */
async function runEachInItsOwnProcess(quick: boolean): Promise<void> {
  const rows: Row[] = [];
  const results: Record<string, unknown> = {};
  let environment: { note?: string } | undefined;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-bench-run-'));
  try {
    for (const scenario of SCENARIOS) {
      const output = path.join(scratch, `${scenario}.json`);
      const args = [__filename, ...(quick ? ['--quick'] : []), `--only=${scenario}`];
      const child = spawn(process.execPath, args, { env: { ...process.env, [CHILD_OUTPUT]: output }, stdio: ['ignore', 'inherit', 'inherit'] });
      const code = await new Promise<number | null>((resolve, reject) => child.on('error', reject).on('exit', resolve));
      if (code !== 0) throw new Error(`the ${scenario} scenario exited with ${code}`);
      const part = JSON.parse(fs.readFileSync(output, 'utf8')) as { environment: { note?: string }; rows: Row[]; results: Record<string, unknown> };
      environment ??= part.environment;
      rows.push(...part.rows);
      Object.assign(results, part.results);
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  report(environment ?? {}, rows, results, quick);
}

/** Prints the table and writes the figures to test/bench/results. */
function report(environment: { note?: string }, rows: Row[], results: Record<string, unknown>, quick: boolean): void {
  printTable(rows);
  if (environment.note) process.stdout.write(`\nNote: ${environment.note}\n`);
  // Compiled to dist/test/bench: the figures go to the source tree's test/bench/results.
  const dir = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../../../test/bench/results' : 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, quick ? 'latest-quick.json' : 'latest.json'), `${JSON.stringify({ environment, results }, null, 2)}\n`);
  log(`figures written to ${path.join(dir, quick ? 'latest-quick.json' : 'latest.json')}`);
}

function printTable(rows: Row[]): void {
  const header: Row = { scenario: 'scenario', measure: 'measure', uplet: 'uplet', baseline: 'baseline', baselineName: 'baseline is', ratio: 'ratio' };
  const cols: Array<keyof Row> = ['scenario', 'measure', 'uplet', 'baseline', 'ratio', 'baselineName'];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[header, ...rows].map((r) => r[c].length))])) as Record<keyof Row, number>;
  const line = (r: Row) => cols.map((c) => r[c].padEnd(width[c])).join(' | ');
  process.stdout.write(`${line(header)}\n${cols.map((c) => '-'.repeat(width[c])).join('-|-')}\n${rows.map(line).join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
