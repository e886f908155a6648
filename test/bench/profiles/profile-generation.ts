/**
 * Profile of chain generation (issue 22): POST /data of N items to a problem with 10 algos, as
 * test/bench/generation-bench.ts runs it, with the driver's commands counted and timed by command,
 * collection and size (documents per insert). `npx tsc -p tsconfig.bench.json && N=10000 node
 * dist/test/bench/profiles/profile-generation.js`. PROF=<dir>: a CPU profile of the timed call.
 */
import { MongoClient, type CommandStartedEvent, type CommandSucceededEvent } from 'mongodb';
const clients: MongoClient[] = [];
const origConnect = MongoClient.prototype.connect;
MongoClient.prototype.connect = function (this: MongoClient) {
  (this as any).options.monitorCommands = true;
  clients.push(this);
  return origConnect.call(this);
};
import crypto from 'node:crypto';
import fs from 'node:fs';
import inspector from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { startLocalMongoServer } from '../../../standalone/local-db/local-mongo-server';
import { indexLikeTheOrchestrator } from '../bench-system';
import { connectMongo } from '../../../shared/db/mongo-connection';
import { silentLogger } from '../../../shared/logging/logger';
import { collectionsOf, ensureIndexes } from '../../../orchestrator/persistence/collections';
import { ChainKeeper } from '../../../orchestrator/work/chain-keeper';
import { Registration } from '../../../orchestrator/work/registration';
import type { WorkDispatcher } from '../../../orchestrator/work/work-dispatcher';

async function main() {
  const server = await startLocalMongoServer({ dataDir: path.join(os.tmpdir(), 'uplet-bench'), log: () => undefined, skipMemoryServer: true });
  if (server.ferret?.backend.kind === 'postgresql') process.env.UPLET_BENCH_FERRET_PG = server.ferret.backend.url;
  const dbName = `bench_genprof_${crypto.randomBytes(3).toString('hex')}`;
  const conn = await connectMongo(server.urlFor(dbName), { maxPoolSize: 8 });
  const rows: Array<{ key: string; ms: number; start: number; end: number }> = [];
  let on = false;
  const started = new Map<number, { e: CommandStartedEvent; t: number }>();
  for (const c of clients) {
    c.on('commandStarted', (e) => on && started.set(e.requestId, { e, t: performance.now() }));
    c.on('commandSucceeded', (e: CommandSucceededEvent) => {
      const s = started.get(e.requestId);
      if (!s) return;
      const cmd = s.e.command as any;
      const n = cmd.documents?.length ?? cmd.updates?.length ?? cmd.deletes?.length;
      const filter = JSON.stringify(cmd.filter ?? cmd.updates?.[0]?.q ?? '', (_k, v) => (typeof v === 'string' ? '*' : v));
      rows.push({
        key: `${s.e.commandName} ${cmd[s.e.commandName]} ${n !== undefined ? `×${n}` : ''} ${filter}`,
        ms: e.duration,
        start: s.t,
        end: performance.now(),
      });
    });
  }
  const owner = { name: 'bench', roles: ['organizer', 'data-provider', 'algo-author'] as const };
  try {
    const c = collectionsOf(conn.db);
    await ensureIndexes(c);
    await indexLikeTheOrchestrator(conn.db);
    const dispatcher: WorkDispatcher = { dispatch: async () => undefined };
    const registration = new Registration(c, new ChainKeeper(c, dispatcher, silentLogger()), dispatcher);
    await registration.postProblem({ uuid: 'gp', workflow: 'wf', test_dataset: ['t0'], size_train_dataset: 10, metric_direction: 'higher' }, owner);
    for (let a = 0; a < 10; a++) await registration.postAlgo({ uuid: `ga${a}`, name: `a${a}`, problem: 'gp' }, owner);
    const uuids = Array.from({ length: Number(process.env.N ?? 10_000) }, (_, i) => `gd${i}`);
    const profiler = process.env.PROF ? new inspector.Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    on = true;
    const t0 = performance.now();
    const { newLearnuplets } = await registration.postData({ uuids, problems: ['gp'] }, owner);
    const seconds = (performance.now() - t0) / 1000;
    on = false;
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      fs.mkdirSync(process.env.PROF!, { recursive: true });
      fs.writeFileSync(path.join(process.env.PROF!, `generation-${process.pid}.cpuprofile`), JSON.stringify(profile));
      profiler.disconnect();
    }
    console.log(`${uuids.length} items → ${newLearnuplets} learnuplets in ${seconds.toFixed(2)} s; ${rows.length} commands`);
    const by = new Map<string, { n: number; ms: number; first: number; last: number }>();
    for (const r of rows) {
      const e = by.get(r.key) ?? { n: 0, ms: 0, first: r.start, last: r.end };
      e.n++;
      e.ms += r.ms;
      e.first = Math.min(e.first, r.start);
      e.last = Math.max(e.last, r.end);
      by.set(r.key, e);
    }
    console.log('count  sum ms  span ms (from t0)  command');
    for (const [k, v] of [...by].sort((a, b) => a[1].first - b[1].first))
      console.log(
        `${String(v.n).padStart(5)} ${v.ms.toFixed(0).padStart(7)} ${(v.first - t0).toFixed(0).padStart(7)}–${(v.last - t0).toFixed(0).padEnd(7)} ${k}`,
      );
  } finally {
    await conn.db.dropDatabase().catch(() => undefined);
    await conn.close();
    await server.stop();
  }
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
