import crypto from 'node:crypto';
import { indexLikeTheOrchestrator } from './bench-system';
import { connectMongo } from '../../shared/db/mongo-connection';
import { silentLogger } from '../../shared/logging/logger';
import { collectionsOf, ensureIndexes } from '../../orchestrator/persistence/collections';
import { ChainKeeper } from '../../orchestrator/work/chain-keeper';
import { Registration } from '../../orchestrator/work/registration';
import type { WorkDispatcher } from '../../orchestrator/work/work-dispatcher';
import type { Principal } from '../../shared/auth/api-keys';

export interface GenerationResult {
  dataItems: number;
  algos: number;
  learnuplets: number;
  upletSeconds: number;
  rawInsertSeconds: number;
  ratio: number;
  listP50Ms: number;
  listDeepPageMs: number;
  listCollectionSize: number;
}

const owner: Principal = { name: 'bench', roles: ['organizer', 'data-provider', 'algo-author'] };

/**
 * Posting `dataItems` data to a problem with `algos` algos: seconds until every
 * learnuplet exists, against a raw insertMany of the same learnuplet documents;
 * then list/filter latency with pagination on the resulting collection.
 */
export async function benchGeneration(mongoUrlFor: (db: string) => string, dataItems: number, algos: number, batchSize: number): Promise<GenerationResult> {
  const dbName = `bench_gen_${crypto.randomBytes(3).toString('hex')}`;
  const conn = await connectMongo(mongoUrlFor(dbName), { maxPoolSize: 8 });
  const raw = await connectMongo(mongoUrlFor(`${dbName}_raw`), { maxPoolSize: 8 });
  try {
    const c = collectionsOf(conn.db);
    await ensureIndexes(c);
    await indexLikeTheOrchestrator(conn.db);
    // Dispatch is measured in its own scenario; here it is a port that counts.
    let dispatched = 0;
    const dispatcher: WorkDispatcher = { dispatch: async (_k, uuids) => void (dispatched += uuids.length) };
    const registration = new Registration(c, new ChainKeeper(c, dispatcher, silentLogger()), dispatcher);
    await registration.postProblem({ uuid: 'gp', workflow: 'wf', test_dataset: ['t0'], size_train_dataset: batchSize, metric_direction: 'higher' }, owner);
    for (let a = 0; a < algos; a++) await registration.postAlgo({ uuid: `ga${a}`, name: `a${a}`, problem: 'gp' }, owner);

    const uuids = Array.from({ length: dataItems }, (_, i) => `gd${i}`);
    const t0 = performance.now();
    const { newLearnuplets } = await registration.postData({ uuids, problems: ['gp'] }, owner);
    const upletSeconds = (performance.now() - t0) / 1000;

    const docs = await c.learnuplets.find({ problem: 'gp' }).toArray();
    const rc = collectionsOf(raw.db);
    await ensureIndexes(rc);
    await indexLikeTheOrchestrator(raw.db);
    const t1 = performance.now();
    await rc.learnuplets.insertMany(docs, { ordered: false });
    const rawInsertSeconds = (performance.now() - t1) / 1000;

    // List/filter with pagination, as GET /learnuplet?algo=…&status=…&limit=100&offset=… does.
    const lat: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = performance.now();
      await c.learnuplets
        .find({ algo: `ga${i % algos}`, status: 'waiting' })
        .sort({ problem: 1, algo: 1, rank: 1 })
        .skip(0)
        .limit(101)
        .toArray();
      lat.push(performance.now() - s);
    }
    lat.sort((a, b) => a - b);
    const s = performance.now();
    await c.learnuplets
      .find({ problem: 'gp' })
      .sort({ problem: 1, algo: 1, rank: 1 })
      .skip(Math.floor(newLearnuplets / 2))
      .limit(101)
      .toArray();
    const listDeepPageMs = performance.now() - s;
    return {
      dataItems,
      algos,
      learnuplets: newLearnuplets,
      upletSeconds,
      rawInsertSeconds,
      ratio: rawInsertSeconds / upletSeconds,
      listP50Ms: lat[Math.floor(lat.length / 2)]!,
      listDeepPageMs,
      listCollectionSize: docs.length,
    };
  } finally {
    await conn.db.dropDatabase().catch(() => undefined);
    await raw.db.dropDatabase().catch(() => undefined);
    await conn.close();
    await raw.close();
  }
}
