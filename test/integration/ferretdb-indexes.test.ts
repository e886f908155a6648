import pg from 'pg';
import { startTestOrchestrator, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { readState } from '../harness/test-servers-state';
import { EQUALITY_FIELDS, ensureFerretGinIndexes } from '../../orchestrator/persistence/ferretdb-gin-indexes';
import { silentLogger } from '../../shared/logging/logger';

/** On FerretDB over PostgreSQL the orchestrator gives every equality lookup a GIN index, at start-up, idempotently. */
describe('FerretDB equality indexes', () => {
  const backend = readState().ferret?.backend;
  const onFerretPostgres = backend?.kind === 'postgresql';
  let t: TestOrchestrator;
  beforeAll(async () => void (t = await startTestOrchestrator('ginidx')));
  afterAll(async () => t?.cleanup());

  const pgClient = async () => {
    const url = new URL(backend!.kind === 'postgresql' ? backend!.url : '');
    url.search = '';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    return client;
  };

  (onFerretPostgres ? test : test.skip)(
    'a GIN index added after a lookup has run serves that lookup: FerretDB statements are planned with their values',
    async () => {
      const client = await pgClient();
      try {
        // FerretDB prepares `_jsonb->$1 @> $2`. PostgreSQL may switch a statement run five times to a generic plan, where the
        // field is a parameter and no expression index can match: an index added later would then go unused on that connection.
        const mode = await client.query<{ mode: string }>(`SELECT current_setting('plan_cache_mode') AS mode`);
        expect(mode.rows[0]!.mode).toBe('force_custom_plan');
        const probe = t.orchestrator.collections.learnuplets.db.collection<{ _id: string; algo: string }>('gin_probe');
        await probe.insertMany(Array.from({ length: 5_000 }, (_, i) => ({ _id: `p${i}`, algo: `a${i % 50}` })));
        const lookup = async (i: number) => expect(await probe.find({ algo: `a${i % 50}` }).toArray()).toHaveLength(100);
        for (let i = 0; i < 8; i++) await lookup(i);
        await ensureFerretGinIndexes(backend!.kind === 'postgresql' ? backend!.url : '', t.database.dbName, silentLogger(), { gin_probe: ['algo'] });
        const scans = async () =>
          Number(
            (
              await client.query<{ n: string }>(
                `SELECT coalesce(sum(idx_scan), 0) AS n FROM pg_stat_user_indexes WHERE schemaname = $1 AND indexrelname LIKE '%\\_gin\\_algo' AND relname LIKE 'gin\\_probe%'`,
                [t.database.dbName],
              )
            ).rows[0]!.n,
          );
        const before = await scans();
        const runs = 12;
        for (let i = 0; i < runs; i++) await lookup(i);
        // Index statistics reach the shared counters when FerretDB's backend next reports (within about a second).
        const deadline = Date.now() + 10_000;
        while ((await scans()) - before < runs && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        expect((await scans()) - before).toBeGreaterThanOrEqual(runs);
      } finally {
        await client.end();
      }
    },
  );

  (onFerretPostgres ? test : test.skip)("each collection's equality fields have a GIN index in PostgreSQL, and a restart adds none twice", async () => {
    const url = new URL(backend!.kind === 'postgresql' ? backend!.url : '');
    url.search = '';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      const count = async () =>
        (
          await client.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE '%\\_gin\\_%' AND tablename NOT LIKE 'gin\\_probe%'`,
            [t.database.dbName],
          )
        ).rows[0]!.n;
      const before = Number(await count());
      // Every collection's equality fields are indexed, even collections nothing was written to yet.
      const expected = Object.values(EQUALITY_FIELDS).reduce((n, fields) => n + fields.length, 0);
      expect(before).toBe(expected);
      // A second start-up pass (another replica, a restart) creates nothing twice.
      const made = await ensureFerretGinIndexes(backend!.kind === 'postgresql' ? backend!.url : '', t.database.dbName, silentLogger());
      expect(made.length).toBe(before);
      expect(Number(await count())).toBe(before);
    } finally {
      await client.end();
    }
  });
});
