/**
 * Profile of the claim cycle (issue 22): runs claim → heartbeat → report one at a time through the
 * orchestrator and counts, with the driver's command monitoring, the database commands of each cycle
 * by command, collection and filter shape. `npx tsc -p tsconfig.bench.json && N=40 node
 * dist/test/bench/profiles/profile-claim.js` (FerretDB on PostgreSQL, as the benchmarks use).
 * PROF=<dir>: also writes a CPU profile of this process over the 8-worker orchestrator phase only.
 */
import { MongoClient, type CommandStartedEvent, type CommandSucceededEvent } from 'mongodb';
const clients: MongoClient[] = [];
const origConnect = MongoClient.prototype.connect;
MongoClient.prototype.connect = function (this: MongoClient) {
  // CPU_ONLY=1: no command monitoring, whose events cost CPU of their own.
  if (process.env.CPU_ONLY !== '1') (this as any).options.monitorCommands = true;
  clients.push(this);
  return origConnect.call(this);
};
import inspector from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { startLocalMongoServer } from '../../../standalone/local-db/local-mongo-server';
import fs from 'node:fs';
import crypto from 'node:crypto';
import type { Db } from 'mongodb';
import { BENCH_KEYS, indexLikeTheOrchestrator, startBenchSystem } from '../bench-system';
import { runPool } from '../bench-stats';
import { connectMongo } from '../../../shared/db/mongo-connection';
import { OrchestratorClient } from '../../../shared/http/orchestrator-client';
import { collectionsOf, ensureIndexes } from '../../../orchestrator/persistence/collections';

/**
 * CPU time (ms) spent by this process, its FerretDB and the PostgreSQL backends serving its databases
 * (named uplet_<this pid>_…): contention stretches wall time, much less the CPU a cycle costs.
 */
function cpuMs(ferretPid: number): { node: number; ferret: number; postgres: number; total: number } {
  const tick = 1000 / 100;
  const ofPid = (pid: number) => {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) * tick;
    } catch {
      return 0;
    }
  };
  const self = process.cpuUsage();
  const node = (self.user + self.system) / 1000;
  const ferret = ofPid(ferretPid);
  let postgres = 0;
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.startsWith('postgres:') && cmd.includes(`uplet_${process.pid}_`)) postgres += ofPid(Number(d));
  }
  return { node, ferret, postgres, total: node + ferret + postgres };
}

/** The raw baseline's cycle (test/bench/claim-cycle-bench.ts). */
async function rawClaimCycle(db: Db, uuid: string): Promise<void> {
  const uplets = db.collection<{ _id: string; attempt: number; status: string }>('preduplets');
  const leases = db.collection<{ _id: string; token?: string; expires_at?: Date }>('leases');
  const settlements = db.collection<{ _id: string }>('settlements');
  const u = await uplets.findOne({ _id: uuid });
  if (!u || u.status !== 'todo') throw new Error('not todo');
  const id = `${uuid}/${u.attempt + 1}`;
  const token = `${u.attempt + 1}.${crypto.randomBytes(18).toString('base64url')}`;
  await leases.insertOne({ _id: id, token, expires_at: new Date(Date.now() + 300_000) });
  await uplets.updateOne({ _id: uuid, attempt: u.attempt }, { $set: { status: 'pending', worker: 'w', attempt: u.attempt + 1 } });
  await Promise.all([leases.findOne({ _id: id }), settlements.findOne({ _id: id })]);
  await leases.updateOne({ _id: id, token }, { $set: { expires_at: new Date(Date.now() + 300_000) } });
  await uplets.findOne({ _id: uuid });
  await leases.findOne({ _id: id });
  await settlements.insertOne({ _id: id });
  await uplets.updateOne({ _id: uuid }, { $set: { status: 'done', prediction_storage_uuid: `p-${uuid}`, timestamp_done: new Date() } });
  await leases.deleteOne({ _id: id });
  await uplets.findOne({ _id: uuid });
}

const recorded: Array<{ name: string; coll: string; ms: number; filter: string }> = [];
let on = false;
function watch(c: MongoClient) {
  const started = new Map<number, CommandStartedEvent>();
  c.on('commandStarted', (e) => on && started.set(e.requestId, e));
  c.on('commandSucceeded', (e: CommandSucceededEvent) => {
    const s = started.get(e.requestId);
    if (!s) return;
    const cmd = s.command as any;
    const coll = String(cmd[s.commandName] ?? '');
    const filter = JSON.stringify(cmd.filter ?? cmd.updates?.[0]?.q ?? cmd.deletes?.[0]?.q ?? cmd.documents?.[0]?._id ?? '', (_k, v) =>
      typeof v === 'string' ? '*' : v,
    );
    recorded.push({ name: s.commandName, coll, ms: e.duration, filter });
  });
}

async function main() {
  const server = await startLocalMongoServer({ dataDir: path.join(os.tmpdir(), 'uplet-bench'), log: () => undefined, skipMemoryServer: true });
  if (server.ferret?.backend.kind === 'postgresql') process.env.UPLET_BENCH_FERRET_PG = server.ferret.backend.url;
  const amqpUrl = 'amqp://guest:guest@127.0.0.1:5672';
  const sys = await startBenchSystem((db) => server.urlFor(db), amqpUrl, { orchestrator: { REAPER_INTERVAL_MS: '3600000', LEASE_SECONDS: '300' } });
  clients.forEach(watch);
  const orch = sys.orchestrator;
  const call = async (p: string, body: unknown) => {
    const res = await fetch(`${orch.url}${p}`, {
      method: 'POST',
      headers: { 'x-api-key': BENCH_KEYS.node.key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as any;
    if (!res.ok) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  await sys.call('POST', '/problem', { uuid: 'bp', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
  await sys.call('POST', '/data', { uuid: 'bd', problems: 'bp' });
  await sys.call('POST', '/algo', { uuid: 'ba', name: 'a', problem: 'bp' });
  const [first] = (await sys.call('GET', '/learnuplet?problem=bp')).learnuplets;
  const c = await call(`/worker/learnuplet/${first.uuid}`, { worker: 'w' });
  await call(`/learndone/${first.uuid}`, { status: 'done', perf: 1, train_perf: {}, test_perf: {}, lease_token: c.lease.token });
  const n = Number(process.env.N ?? 40);
  const items = Array.from({ length: n }, (_, i) => `x${i}`);
  await sys.call('POST', '/data', { uuid: items, problems: [] });
  const uuids: string[] = (await sys.call('POST', '/prediction', { data: items, problem: 'bp' })).preduplets;
  const phases: Record<string, number[]> = { claim: [], heartbeat: [], report: [] };
  await new Promise((r) => setTimeout(r, 500));
  for (const [i, uuid] of uuids.entries()) {
    if (i === 5) {
      on = true;
      recorded.length = 0;
    }
    let t = performance.now();
    const claim = await call(`/worker/preduplet/${uuid}`, { worker: 'w' });
    phases.claim!.push(performance.now() - t);
    t = performance.now();
    await call(`/worker/preduplet/${uuid}/heartbeat`, { lease_token: claim.lease.token });
    phases.heartbeat!.push(performance.now() - t);
    t = performance.now();
    await call(`/preddone/${uuid}`, { status: 'done', prediction_storage_uuid: `prediction-${uuid}-${claim.lease.attempt}`, lease_token: claim.lease.token });
    phases.report!.push(performance.now() - t);
  }
  on = false;
  const cycles = n - 5;
  const byKey = new Map<string, { count: number; ms: number }>();
  for (const r of recorded) {
    const k = `${r.name} ${r.coll} ${r.filter}`;
    const e = byKey.get(k) ?? { count: 0, ms: 0 };
    e.count++;
    e.ms += r.ms;
    byKey.set(k, e);
  }
  console.log(`commands per cycle: ${(recorded.length / cycles).toFixed(2)}, db ms per cycle ${(recorded.reduce((a, r) => a + r.ms, 0) / cycles).toFixed(2)}`);
  for (const [k, v] of [...byKey].sort((a, b) => b[1].count - a[1].count))
    console.log(`${(v.count / cycles).toFixed(2)}/cycle  ${(v.ms / v.count).toFixed(2)} ms  ${k}`);
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(2);
  console.log(`http p50 ms: claim ${med(phases.claim!.slice(5))} heartbeat ${med(phases.heartbeat!.slice(5))} report ${med(phases.report!.slice(5))}`);
  // CPU per cycle, 8 workers as in the benchmark, beside the raw driver on the same documents.
  const m = Number(process.env.M ?? 200);
  const more = Array.from({ length: m }, (_, i) => `y${i}`);
  await sys.call('POST', '/data', { uuid: more, problems: [] });
  const cpuUuids: string[] = (await sys.call('POST', '/prediction', { data: more, problem: 'bp' })).preduplets;
  const sameDocs = await sys.orchestrator.collections.preduplets.find({ _id: { $in: cpuUuids } }).toArray();
  const ferretPid = server.ferret!.pid;
  const profiler = process.env.PROF ? new inspector.Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  let cpu0 = cpuMs(ferretPid);
  let t0 = performance.now();
  // Through the compute agents' own client, as the benchmark (claim-cycle-bench.ts) makes these calls.
  const agent = new OrchestratorClient({ baseUrl: orch.url, apiKey: BENCH_KEYS.node.key, retry: { retries: 0 } });
  await runPool(cpuUuids, 8, async (uuid) => {
    const { lease } = await agent.claim('preduplet', uuid, 'w');
    await agent.heartbeat('preduplet', uuid, lease.token);
    await agent.report('preduplet', uuid, lease.token, { status: 'done', prediction_storage_uuid: `prediction-${uuid}-${lease.attempt}` });
  });
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    fs.mkdirSync(process.env.PROF!, { recursive: true });
    fs.writeFileSync(path.join(process.env.PROF!, `claim-${process.pid}.cpuprofile`), JSON.stringify(profile));
    profiler.disconnect();
  }
  const per = (a: ReturnType<typeof cpuMs>, b: ReturnType<typeof cpuMs>) =>
    `node ${((b.node - a.node) / m).toFixed(1)}, FerretDB ${((b.ferret - a.ferret) / m).toFixed(1)}, PostgreSQL ${((b.postgres - a.postgres) / m).toFixed(1)}`;
  let cpu1 = cpuMs(ferretPid);
  const orchCpu = (cpu1.total - cpu0.total) / m;
  const orchParts = per(cpu0, cpu1);
  const orchRate = m / ((performance.now() - t0) / 1000);
  const raw = await connectMongo(server.urlFor(`bench_cpu_raw_${process.pid}`), { maxPoolSize: 10 });
  await ensureIndexes(collectionsOf(raw.db));
  await indexLikeTheOrchestrator(raw.db);
  await raw.db.collection('preduplets').insertMany(sameDocs as never[]);
  cpu0 = cpuMs(ferretPid);
  t0 = performance.now();
  await runPool(cpuUuids, 8, (uuid) => rawClaimCycle(raw.db, uuid));
  cpu1 = cpuMs(ferretPid);
  const rawCpu = (cpu1.total - cpu0.total) / m;
  const rawParts = per(cpu0, cpu1);
  const rawRate = m / ((performance.now() - t0) / 1000);
  console.log(
    `8 workers, ${m} cycles: orchestrator ${orchCpu.toFixed(1)} CPU-ms/cycle (${orchRate.toFixed(0)}/s), raw driver ${rawCpu.toFixed(1)} CPU-ms/cycle (${rawRate.toFixed(0)}/s); CPU ratio raw/orchestrator ${(rawCpu / orchCpu).toFixed(2)}\n  orchestrator: ${orchParts}\n  raw: ${rawParts}`,
  );
  await raw.db.dropDatabase();
  await raw.close();
  await sys.close();
  await server.stop();
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
