import crypto from 'node:crypto';
import type { Db } from 'mongodb';
import { connectMongo } from '../../shared/db/mongo-connection';
import { collectionsOf, ensureIndexes } from '../../orchestrator/persistence/collections';
import { BENCH_KEYS, indexLikeTheOrchestrator, startBenchSystem } from './bench-system';
import { runPool, summarize, type LatencySummary } from './bench-stats';
import { OrchestratorClient } from '../../shared/http/orchestrator-client';

export interface ClaimCycleResult {
  uplets: number;
  workers: number;
  orchestrator: LatencySummary;
  rawDriver: LatencySummary;
  /** orchestrator rate / raw driver rate */
  ratio: number;
}

/**
 * Claim → heartbeat → report over HTTP with N concurrent workers, against the
 * raw MongoDB driver making the same state changes (the same fences, reads and
 * updates) directly on the same server: the ratio is the orchestrator's overhead.
 */
export async function benchClaimCycle(mongoUrlFor: (db: string) => string, amqpUrl: string, uplets: number, workers: number): Promise<ClaimCycleResult> {
  const sys = await startBenchSystem(mongoUrlFor, amqpUrl, { orchestrator: { REAPER_INTERVAL_MS: '3600000', LEASE_SECONDS: '300' } });
  const orch = sys.orchestrator;
  const rawDbName = `bench_claim_raw_${crypto.randomBytes(3).toString('hex')}`;
  const node = BENCH_KEYS.node.key;
  const call = async (key: string, p: string, body: unknown) => {
    const res = await fetch(`${orch.url}${p}`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as any;
    if (!res.ok) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  try {
    await sys.call('POST', '/problem', { uuid: 'bp', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
    await sys.call('POST', '/data', { uuid: 'bd', problems: 'bp' });
    await sys.call('POST', '/algo', { uuid: 'ba', name: 'a', problem: 'bp' });
    const [first] = (await sys.call('GET', '/learnuplet?problem=bp')).learnuplets;
    const c = await call(node, `/worker/learnuplet/${first.uuid}`, { worker: 'w' });
    await call(node, `/learndone/${first.uuid}`, { status: 'done', perf: 1, train_perf: {}, test_perf: {}, lease_token: c.lease.token });
    // Predictions name only data their requester registered (to no problem here).
    const items = Array.from({ length: uplets }, (_, i) => `x${i}`);
    await sys.call('POST', '/data', { uuid: items, problems: [] });
    const requested = await sys.call('POST', '/prediction', { data: items, problem: 'bp' });
    const uuids: string[] = requested.preduplets;
    // The baseline works on the very same documents, with the same indexes.
    const sameDocs = await orch.collections.preduplets.find({ _id: { $in: uuids } }).toArray();

    // Through the compute agents' own client (shared/http/orchestrator-client.ts), as an agent makes these calls.
    const agent = new OrchestratorClient({ baseUrl: orch.url, apiKey: node, retry: { retries: 0 } });
    const httpLatencies: number[] = [];
    const httpStart = performance.now();
    await runPool(uuids, workers, async (uuid) => {
      const t0 = performance.now();
      const { lease } = await agent.claim('preduplet', uuid, 'w');
      await agent.heartbeat('preduplet', uuid, lease.token);
      await agent.report('preduplet', uuid, lease.token, { status: 'done', prediction_storage_uuid: `prediction-${uuid}-${lease.attempt}` });
      httpLatencies.push(performance.now() - t0);
    });
    const orchestrator = summarize(httpLatencies, (performance.now() - httpStart) / 1000);

    // Baseline: the same documents and the same state changes, straight through the driver.
    const rawDriver = await rawFenceCycles(mongoUrlFor(rawDbName), sameDocs, workers);
    return { uplets, workers, orchestrator, rawDriver, ratio: orchestrator.perSecond / rawDriver.perSecond };
  } finally {
    await sys.close();
  }
}

/**
 * The raw fence claim cycle: `docs` (todo uplets) copied into a database of their own with the
 * orchestrator's indexes, then claim → heartbeat → report of each through the driver alone, by
 * `workers` concurrent loops. The baseline of the claim cycle, and of the no-op tasks end to end.
 */
export async function rawFenceCycles(mongoUrl: string, docs: ReadonlyArray<{ _id: string }>, workers: number): Promise<LatencySummary> {
  const raw = await connectMongo(mongoUrl, { maxPoolSize: 10 });
  try {
    await ensureIndexes(collectionsOf(raw.db));
    await indexLikeTheOrchestrator(raw.db);
    await raw.db.collection('preduplets').insertMany(docs.map((d) => ({ ...d })) as never[]);
    const latencies: number[] = [];
    const settled: string[] = [];
    const started = performance.now();
    await runPool(
      docs.map((d) => d._id),
      workers,
      async (uuid) => {
        const t0 = performance.now();
        await rawClaimCycle(raw.db, uuid, settled);
        latencies.push(performance.now() - t0);
      },
    );
    // The settled leases in one command (the orchestrator's batches are smaller; this favours the baseline).
    await raw.db.collection<{ _id: string }>('leases').deleteMany({ _id: { $in: settled } });
    return summarize(latencies, (performance.now() - started) / 1000);
  } finally {
    await raw.db.dropDatabase().catch(() => undefined);
    await raw.close();
  }
}

/** What the orchestrator does for one claim, heartbeat and report, minus HTTP, auth and validation. */
async function rawClaimCycle(db: Db, uuid: string, settled: string[]): Promise<void> {
  const uplets = db.collection<{ _id: string; attempt: number; status: string }>('preduplets');
  const leases = db.collection<{ _id: string; token?: string; expires_at?: Date }>('leases');
  const settlements = db.collection<{ _id: string }>('settlements');
  const u = await uplets.findOne({ _id: uuid });
  if (!u || u.status !== 'todo') throw new Error('not todo');
  const id = `${uuid}/${u.attempt + 1}`;
  const token = `${u.attempt + 1}.${crypto.randomBytes(18).toString('base64url')}`;
  await leases.insertOne({ _id: id, token, expires_at: new Date(Date.now() + 300_000) });
  await uplets.updateOne({ _id: uuid, attempt: u.attempt }, { $set: { status: 'pending', worker: 'w', attempt: u.attempt + 1 } });
  // heartbeat (the lease as granted is remembered; the settlement is read)
  await settlements.findOne({ _id: id });
  await leases.updateOne({ _id: id, token }, { $set: { expires_at: new Date(Date.now() + 300_000) } });
  // report, as in the orchestrator: the claim's copies of the task and lease, not reads; the
  // settlement read only when the fence insert fails; the answer as written; the lease deleted later, in a batch
  await settlements.insertOne({ _id: id });
  await uplets.updateOne({ _id: uuid }, { $set: { status: 'done', prediction_storage_uuid: `p-${uuid}`, timestamp_done: new Date() } });
  settled.push(id);
}
