import crypto from 'node:crypto';
import { loadConfig } from '../../shared/config/load-config';
import { connectMongo } from '../../shared/db/mongo-connection';
import { silentLogger } from '../../shared/logging/logger';
import { orchestratorSettingsSchema } from '../../orchestrator/config';
import { startOrchestrator } from '../../orchestrator/orchestrator-service';
import { minuteOf } from '../../orchestrator/domain/lease-rules';
import type { DataDoc, LearnupletDoc, MinibatchDoc } from '../../orchestrator/domain/documents';
import { learnupletUuid, logId, minibatchId, modelEndUuid, trainCursor } from '../../orchestrator/domain/uplet-ids';
import { reapExpiredLeases } from '../../orchestrator/periodic/lease-reaper';
import { TodoSweeper } from '../../orchestrator/periodic/todo-sweeper';
import type { WorkDispatcher } from '../../orchestrator/work/work-dispatcher';
import {
  collectionsOf,
  ensureIndexes,
  type Collections,
  type DispatchDoc,
  type LeaseDoc,
  type SettlementDoc,
  type TrainLogDoc,
} from '../../orchestrator/persistence/collections';
import { ChainKeeper } from '../../orchestrator/work/chain-keeper';
import { taskKindTable } from '../../orchestrator/work/task-kinds';
import { WorkLeases } from '../../orchestrator/work/work-leases';
import { ensureFerretGinIndexes } from '../../orchestrator/persistence/ferretdb-gin-indexes';
import { percentile } from './bench-stats';

/** Adds the equality indexes to a database of the benchmark (the orchestrator's own start-up pass, see persistence/ferretdb-gin-indexes.ts). */
export type IndexAdder = (mongoDb: string) => Promise<string[]>;

export function ferretGinIndexes(postgresUrl: string): IndexAdder {
  return (mongoDb) => ensureFerretGinIndexes(postgresUrl, mongoDb, silentLogger());
}

export interface GrowthPoint {
  size: number;
  insertSeconds: number;
  p50Ms: number;
  p90Ms: number;
  ratioToSmallest: number;
}

export interface GrowthResult {
  postData: GrowthPoint[];
  sweep: GrowthPoint[];
  reap: GrowthPoint[];
  indexes: string[];
}

const BENCH_KEY = { name: 'growth', key: 'bench-growth-key-0000000', roles: ['organizer', 'data-provider', 'algo-author'] };
const SIZE = 10;
const SAMPLES = 20;

/**
 * Issue 23: the cost of one operation as the database grows. A single-item
 * `POST /data` (over HTTP) with `dataSizes` data items of the same problem
 * already registered, cut and in a chain; one sweeper cycle and one reaper
 * cycle with `upletSizes` uplets. Background documents are bulk-inserted.
 */
export async function benchGrowth(
  mongoUrlFor: (db: string) => string,
  amqpUrl: string,
  dataSizes: number[],
  upletSizes: number[],
  addIndexes: IndexAdder | undefined,
  log: (l: string) => void,
): Promise<GrowthResult> {
  const indexes = new Set<string>();
  const postData: GrowthPoint[] = [];
  for (const n of dataSizes) {
    const point = await postDataAt(mongoUrlFor, amqpUrl, n, addIndexes, indexes, log);
    postData.push({ ...point, ratioToSmallest: postData.length ? point.p50Ms / postData[0]!.p50Ms : 1 });
    log(`  POST /data with ${n} data: p50 ${point.p50Ms.toFixed(1)} ms`);
  }
  const sweep: GrowthPoint[] = [];
  const reap: GrowthPoint[] = [];
  for (const n of upletSizes) {
    const { sweep: s, reap: r } = await cyclesAt(mongoUrlFor, n, addIndexes, indexes, log);
    sweep.push({ ...s, ratioToSmallest: sweep.length ? s.p50Ms / sweep[0]!.p50Ms : 1 });
    reap.push({ ...r, ratioToSmallest: reap.length ? r.p50Ms / reap[0]!.p50Ms : 1 });
    log(`  ${n} uplets: sweep p50 ${s.p50Ms.toFixed(1)} ms, reap p50 ${r.p50Ms.toFixed(1)} ms`);
  }
  return { postData, sweep, reap, indexes: [...indexes] };
}

async function insertChunked<T>(insert: (docs: T[]) => Promise<unknown>, count: number, make: (i: number) => T): Promise<void> {
  for (let start = 0; start < count; start += 10_000) {
    const docs: T[] = [];
    for (let i = start; i < Math.min(count, start + 10_000); i++) docs.push(make(i));
    await insert(docs);
  }
}

function learnuplet(uuid: string, problem: string, algo: string, rank: number, status: LearnupletDoc['status'], at: Date): LearnupletDoc {
  return {
    _id: uuid,
    uuid,
    problem,
    algo,
    workflow: 'wf',
    rank,
    train_data: [`d${rank}`],
    test_data: ['t0'],
    model_start: null,
    model_end: modelEndUuid(uuid),
    status,
    worker: null,
    attempt: 0,
    failure_reason: null,
    perf: status === 'done' ? 0.5 : null,
    train_perf: null,
    test_perf: null,
    timestamp_creation: at,
    timestamp_todo: status === 'todo' ? at : null,
    timestamp_claimed: null,
    timestamp_done: null,
  };
}

/** `n` data of problem gp already in its train log, cut into minibatches, with a chain of one algo whose last rank is todo. */
async function postDataAt(
  mongoUrlFor: (db: string) => string,
  amqpUrl: string,
  n: number,
  addIndexes: IndexAdder | undefined,
  indexes: Set<string>,
  log: (l: string) => void,
): Promise<Omit<GrowthPoint, 'ratioToSmallest'>> {
  const id = crypto.randomBytes(3).toString('hex');
  const dbName = `bench_growth_data_${id}`;
  const orchestrator = await startOrchestrator(
    loadConfig(orchestratorSettingsSchema, {
      MONGO_URL: mongoUrlFor(dbName),
      MONGO_POOL_SIZE: '8',
      AMQP_URL: amqpUrl,
      AMQP_PREFIX: `bench-growth-${id}`,
      ORCHESTRATOR_PORT: '0',
      UPLET_API_KEYS: JSON.stringify([BENCH_KEY]),
      UPLET_CAPABILITY_SECRET: crypto.randomBytes(24).toString('hex'),
      SWEEP_INTERVAL_MS: '3600000',
      REAPER_INTERVAL_MS: '3600000',
    }),
    silentLogger(),
  );
  const call = async (p: string, body: unknown) => {
    const res = await fetch(`${orchestrator.url}${p}`, {
      method: 'POST',
      headers: { 'x-api-key': BENCH_KEY.key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${p}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const c = orchestrator.collections;
  try {
    await call('/problem', { uuid: 'gp', workflow: 'wf', test_dataset: ['t0'], size_train_dataset: SIZE });
    await call('/algo', { uuid: 'ga', name: 'a', problem: 'gp' });
    const now = new Date();
    const batches = Math.floor(n / SIZE);
    const t0 = performance.now();
    await insertChunked<DataDoc>(
      (d) => c.datas.insertMany(d),
      n,
      (i) => ({ _id: `bg${i}`, uuid: `bg${i}`, problems: ['gp'], owner: 'growth', timestamp_upload: now, upload_index: i }),
    );
    await insertChunked<TrainLogDoc>(
      (d) => c.trainLog.insertMany(d),
      n,
      (i) => ({ _id: logId('gp', i), problem: 'gp', pos: i, data: `bg${i}`, batch: minibatchId('gp', Math.floor(i / SIZE)) }),
    );
    await insertChunked<MinibatchDoc>(
      (d) => c.minibatches.insertMany(d),
      batches,
      (k) => ({
        _id: minibatchId('gp', k),
        problem: 'gp',
        index: k,
        site: 'default',
        site_batch: `gp@default/${k}`,
        train_data: Array.from({ length: SIZE }, (_, j) => `bg${k * SIZE + j}`),
        timestamp_creation: now,
      }),
    );
    // The chain is busy (its last rank todo), as a live problem's is: a new rank waits behind it.
    await insertChunked<LearnupletDoc>(
      (d) => c.learnuplets.insertMany(d),
      batches,
      (k) => learnuplet(learnupletUuid('gp', 'ga', k), 'gp', 'ga', k, k === batches - 1 ? 'todo' : 'done', now),
    );
    await c.cursors.insertOne({ _id: trainCursor('gp'), next_pos: n, next_batch: batches });
    const insertSeconds = (performance.now() - t0) / 1000;
    if (addIndexes) for (const i of await addIndexes(dbName)) indexes.add(i);
    log(`  ${n} data inserted in ${insertSeconds.toFixed(1)} s`);
    await call('/data', { uuid: 'warm-up', problems: 'gp' });
    const lat: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t = performance.now();
      await call('/data', { uuid: `new${i}`, problems: 'gp' });
      lat.push(performance.now() - t);
    }
    lat.sort((a, b) => a - b);
    return { size: n, insertSeconds, p50Ms: percentile(lat, 50), p90Ms: percentile(lat, 90) };
  } finally {
    await orchestrator.close();
    await dropDb(mongoUrlFor, dbName);
  }
}

const TODO = 50;
const PENDING_LIVE = 50;
const EXPIRED_PER_CYCLE = 10;
const CYCLES = 5;

/**
 * `n` uplets (learnuplets and preduplets: mostly done or waiting, a fixed 50
 * todo and 50 pending under live leases), half as many settlements, a dispatch
 * record each. One sweep (republishes the 50 stale todo, repairs nothing); one
 * reap with 10 freshly expired leases. The dispatcher is a counting port: what
 * is measured is the database work of the cycle, not the broker.
 */
async function cyclesAt(
  mongoUrlFor: (db: string) => string,
  n: number,
  addIndexes: IndexAdder | undefined,
  indexes: Set<string>,
  log: (l: string) => void,
): Promise<{ sweep: Omit<GrowthPoint, 'ratioToSmallest'>; reap: Omit<GrowthPoint, 'ratioToSmallest'> }> {
  const dbName = `bench_growth_uplets_${crypto.randomBytes(3).toString('hex')}`;
  const conn = await connectMongo(mongoUrlFor(dbName), { maxPoolSize: 8 });
  try {
    const c: Collections = collectionsOf(conn.db);
    await ensureIndexes(c);
    const old = new Date(Date.now() - 3_600_000);
    const live = new Date(Date.now() + 3_600_000);
    const reserved = TODO + PENDING_LIVE + EXPIRED_PER_CYCLE * CYCLES;
    const statusOf = (i: number): LearnupletDoc['status'] => (i < TODO ? 'todo' : i < reserved ? 'pending' : i % 10 < 7 ? 'done' : 'waiting');
    const t0 = performance.now();
    const learn = Math.ceil(n / 2);
    await insertChunked<LearnupletDoc>(
      (d) => c.learnuplets.insertMany(d),
      learn,
      (i) => {
        const l = learnuplet(`u${i}`, `p${i % 100}`, `a${i % 1000}`, Math.floor(i / 1000), statusOf(i), old);
        return statusOf(i) === 'pending' ? { ...l, attempt: 1, worker: 'w', timestamp_claimed: old } : l;
      },
    );
    await insertChunked(
      (d) => c.preduplets.insertMany(d as never),
      n - learn,
      (i) => ({
        _id: `q${i}`,
        uuid: `q${i}`,
        problem: `p${i % 100}`,
        workflow: 'wf',
        data: `x${i}`,
        model: 'm',
        algo: 'a',
        learnuplet: 'l',
        owner: 'o',
        status: 'done',
        worker: 'w',
        attempt: 1,
        failure_reason: null,
        prediction_storage_uuid: 's',
        timestamp_request: old,
        timestamp_todo: old,
        timestamp_claimed: old,
        timestamp_done: old,
      }),
    );
    await insertChunked<SettlementDoc>(
      (d) => c.settlements.insertMany(d),
      Math.floor(n / 2),
      (i) => ({ _id: `q${i}/1`, uplet: `q${i}`, kind: 'preduplet', attempt: 1, by: 'report', status: 'done', result: null, settled_at: old }),
    );
    await insertChunked<DispatchDoc>(
      (d) => c.dispatches.insertMany(d),
      n,
      (i) => ({ _id: i < learn ? `u${i}` : `q${i - learn}`, kind: i < learn ? 'learnuplet' : 'preduplet', published_at: old }),
    );
    const lease = (i: number, expires: Date): LeaseDoc => ({
      _id: `u${i}/1`,
      uplet: `u${i}`,
      kind: 'learnuplet',
      attempt: 1,
      token: `1.${'x'.repeat(20)}`,
      worker: 'w',
      principal: 'node',
      claimed_at: old,
      expires_at: expires,
      expiry_minute: minuteOf(expires),
    });
    await c.leases.insertMany(Array.from({ length: PENDING_LIVE }, (_, j) => lease(TODO + j, live)));
    const insertSeconds = (performance.now() - t0) / 1000;
    if (addIndexes) for (const i of await addIndexes(dbName)) indexes.add(i);
    log(`  ${n} uplets inserted in ${insertSeconds.toFixed(1)} s`);

    let published = 0;
    const dispatcher: WorkDispatcher = { dispatch: async (_k, uuids) => void (published += uuids.length) };
    const chains = new ChainKeeper(c, dispatcher, silentLogger());
    const leases = new WorkLeases(c, taskKindTable(c, chains), dispatcher, { leaseMs: 60_000, maxAttempts: 3 }, silentLogger());
    const sweeper = new TodoSweeper(c, dispatcher, taskKindTable(c, chains), leases, { republishAfterMs: 60_000, batch: 1000 }, silentLogger());

    const sweeps: number[] = [];
    await sweeper.sweep();
    for (let i = 0; i < CYCLES; i++) {
      const t = performance.now();
      const r = await sweeper.sweep();
      sweeps.push(performance.now() - t);
      if (r.republished !== TODO) throw new Error(`sweep republished ${r.republished}, expected ${TODO}`);
    }
    const reaps: number[] = [];
    await reapExpiredLeases(c, leases);
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      // Expired a moment ago, but within the current minute: a real lease never expires before the
      // minute it was claimed in, and the reaper's cursor may already be past earlier minutes.
      const now = Date.now();
      const expired = new Date(now - Math.min(1_000, now % 60_000));
      const first = TODO + PENDING_LIVE + cycle * EXPIRED_PER_CYCLE;
      await c.leases.insertMany(Array.from({ length: EXPIRED_PER_CYCLE }, (_, j) => lease(first + j, expired)));
      const t = performance.now();
      const reaped = await reapExpiredLeases(c, leases);
      reaps.push(performance.now() - t);
      if (reaped !== EXPIRED_PER_CYCLE) throw new Error(`reap settled ${reaped}, expected ${EXPIRED_PER_CYCLE}`);
    }
    sweeps.sort((a, b) => a - b);
    reaps.sort((a, b) => a - b);
    return {
      sweep: { size: n, insertSeconds, p50Ms: percentile(sweeps, 50), p90Ms: percentile(sweeps, 90) },
      reap: { size: n, insertSeconds, p50Ms: percentile(reaps, 50), p90Ms: percentile(reaps, 90) },
    };
  } finally {
    await conn.db.dropDatabase().catch(() => undefined);
    await conn.close();
  }
}

async function dropDb(mongoUrlFor: (db: string) => string, dbName: string): Promise<void> {
  const conn = await connectMongo(mongoUrlFor(dbName), { maxPoolSize: 1 });
  await conn.db.dropDatabase().catch(() => undefined);
  await conn.close();
}
