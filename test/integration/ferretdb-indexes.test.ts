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

  (onFerretPostgres ? test : test.skip)("each collection's equality fields have a GIN index in PostgreSQL, and a restart adds none twice", async () => {
    const url = new URL(backend!.kind === 'postgresql' ? backend!.url : '');
    url.search = '';
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      const count = async () =>
        (await client.query<{ n: string }>(`SELECT count(*) AS n FROM pg_indexes WHERE schemaname = $1 AND indexname LIKE '%\\_gin\\_%'`, [t.database.dbName]))
          .rows[0]!.n;
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
