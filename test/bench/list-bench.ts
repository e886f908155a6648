import { ensureIndexes } from '../../orchestrator/persistence/collections';
import type { LearnupletDoc } from '../../orchestrator/domain/documents';
import pg from 'pg';
import { EQUALITY_FIELDS, ensureFerretGinIndexes } from '../../orchestrator/persistence/ferretdb-gin-indexes';
import { silentLogger } from '../../shared/logging/logger';
import { percentile } from './bench-stats';
import { benchFerretPostgres, startBenchSystem } from './bench-system';

export interface ListResult {
  uplets: number;
  insertSeconds: number;
  httpFirstPageP50Ms: number;
  httpDeepPageMs: number;
  rawFirstPageP50Ms: number;
  rawDeepPageMs: number;
  /** The same queries without the learnuplets' GIN indexes (FerretDB on PostgreSQL only): the "before". */
  withoutGin?: ListTimings;
}

type ListTimings = Pick<ListResult, 'httpFirstPageP50Ms' | 'httpDeepPageMs' | 'rawFirstPageP50Ms' | 'rawDeepPageMs'>;

/**
 * GET /learnuplet with a filter and pagination on a collection of `count`
 * learnuplets, against the same query straight through the driver.
 */
export async function benchList(mongoUrlFor: (db: string) => string, amqpUrl: string, count: number, log: (l: string) => void): Promise<ListResult> {
  const sys = await startBenchSystem(mongoUrlFor, amqpUrl);
  try {
    const c = sys.orchestrator.collections;
    await ensureIndexes(c);
    const algos = 100;
    const now = new Date();
    const insertStart = performance.now();
    for (let start = 0; start < count; start += 10_000) {
      const docs: LearnupletDoc[] = [];
      for (let i = start; i < Math.min(count, start + 10_000); i++) {
        const uuid = `l${i}`;
        docs.push({
          _id: uuid,
          uuid,
          problem: 'lp',
          algo: `a${i % algos}`,
          workflow: 'wf',
          rank: Math.floor(i / algos),
          train_data: [`d${i}`],
          test_data: ['t'],
          model_start: null,
          model_end: `m${i}`,
          status: i % 7 === 0 ? 'todo' : 'waiting',
          worker: null,
          attempt: 0,
          failure_reason: null,
          perf: null,
          train_perf: null,
          test_perf: null,
          timestamp_creation: now,
          timestamp_todo: null,
          timestamp_claimed: null,
          timestamp_done: null,
        });
      }
      await c.learnuplets.insertMany(docs, { ordered: false });
      if ((start / 10_000) % 20 === 0) log(`  list: ${start + docs.length} / ${count} learnuplets inserted`);
    }
    const insertSeconds = (performance.now() - insertStart) / 1000;
    const measure = async (): Promise<ListTimings> => {
      const http: number[] = [];
      const raw: number[] = [];
      for (let i = 0; i < 10; i++) {
        let t = performance.now();
        await sys.call('GET', `/learnuplet?algo=a${i}&status=todo&limit=100`);
        http.push(performance.now() - t);
        t = performance.now();
        await c.learnuplets
          .find({ algo: `a${i}`, status: 'todo' })
          .sort({ problem: 1, algo: 1, rank: 1 })
          .limit(101)
          .toArray();
        raw.push(performance.now() - t);
      }
      const deep = Math.floor(count / algos / 2);
      let t = performance.now();
      await sys.call('GET', `/learnuplet?algo=a1&limit=100&offset=${deep}`);
      const httpDeepPageMs = performance.now() - t;
      t = performance.now();
      await c.learnuplets.find({ algo: 'a1' }).sort({ problem: 1, algo: 1, rank: 1 }).skip(deep).limit(101).toArray();
      const rawDeepPageMs = performance.now() - t;
      http.sort((a, b) => a - b);
      raw.sort((a, b) => a - b);
      return { httpFirstPageP50Ms: percentile(http, 50), httpDeepPageMs, rawFirstPageP50Ms: percentile(raw, 50), rawDeepPageMs };
    };
    // On FerretDB over PostgreSQL: first without the learnuplets' GIN indexes (dropped), then with them (the orchestrator's start-up pass again).
    const pgUrl = benchFerretPostgres();
    let withoutGin: ListTimings | undefined;
    if (pgUrl) {
      const dbName = sys.orchestrator.collections.learnuplets.dbName;
      await dropGinIndexes(pgUrl, dbName, 'learnuplets');
      withoutGin = await measure();
      log(`  list without GIN indexes: ${JSON.stringify(withoutGin)}`);
      await ensureFerretGinIndexes(pgUrl, dbName, silentLogger(), { learnuplets: EQUALITY_FIELDS.learnuplets! });
    }
    return { uplets: count, insertSeconds, ...(await measure()), ...(withoutGin ? { withoutGin } : {}) };
  } finally {
    await sys.close();
  }
}

/** Drops the GIN indexes of one collection's table (the bench's "before"). */
async function dropGinIndexes(postgresUrl: string, schema: string, collection: string): Promise<void> {
  const url = new URL(postgresUrl);
  url.search = '';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ indexname: string }>(
      `SELECT i.indexname FROM pg_indexes i JOIN "${schema}"._ferretdb_database_metadata m ON i.tablename = m._jsonb->>'table'
       WHERE i.schemaname = $1 AND m._jsonb->>'_id' = $2 AND i.indexname LIKE '%\\_gin\\_%'`,
      [schema, collection],
    );
    for (const r of rows) await client.query(`DROP INDEX "${schema}"."${r.indexname}"`);
  } finally {
    await client.end();
  }
}
