import pg from 'pg';
import type { Logger } from '../../shared/logging/logger';

/**
 * The fields the orchestrator looks up by equality, per collection: what its request paths and
 * periodic jobs filter on. A collection added to the orchestrator adds its row here.
 */
export const EQUALITY_FIELDS: Readonly<Record<string, readonly string[]>> = {
  problems: ['_id'],
  algos: ['_id', 'problem'],
  datas: ['_id'],
  memberships: ['_id'],
  train_log: ['_id', 'batch'],
  cursors: ['_id'],
  minibatches: ['_id', 'site_batch'],
  learnuplets: ['_id', 'status', 'algo', 'problem', 'model_end'],
  preduplets: ['_id', 'status', 'problem'],
  leases: ['_id', 'expiry_minute'],
  settlements: ['_id'],
  dispatches: ['_id'],
  chain_advances: ['_id'],
  agents: ['_id', 'site'],
  // The training engine's: a job's trials are read at every trial's end, so `trials.job` is its hot path.
  datasets: ['_id', 'status'],
  profile_tasks: ['_id', 'status'],
  // `ask_round`: a trial's end reads its round's trials (`{job, ask_round}`), not the whole job's.
  trials: ['_id', 'job', 'status', 'ask_round'],
  // Read by `_id` at each trial's claim (its round's history).
  trial_rounds: ['_id'],
  final_tasks: ['_id', 'status'],
  synthesize_tasks: ['_id', 'status'],
  teach_tasks: ['_id', 'status'],
  jobs: ['_id', 'status'],
  job_fences: ['_id'],
  job_profiles: ['_id'],
  models: ['_id'],
  akkio_tasks: ['_id', 'submitted'],
  akkio_keys: ['_id'],
  registry_models: ['_id', 'project_id', 'job_id'],
  registry_fences: ['_id'],
  registry_events: ['_id', 'project_id'],
};

/**
 * FerretDB (1.x, on PostgreSQL) pushes an equality filter down as `_jsonb->'field' @> value`,
 * which the btree indexes it creates for `createIndex` cannot serve: every lookup scans its
 * table (the design brief: 27 ms at 50,000 documents). A GIN index on that expression serves it
 * (1.8 ms). When the orchestrator is told FerretDB's PostgreSQL (`FERRETDB_POSTGRES_URL`), it
 * creates these at start-up: idempotent (IF NOT EXISTS), on the tables FerretDB maps each
 * collection to (its `_ferretdb_database_metadata`). On MongoDB nothing is done: its own indexes serve.
 */
export async function ensureFerretGinIndexes(
  postgresUrl: string,
  mongoDatabase: string,
  logger: Logger,
  fields: Readonly<Record<string, readonly string[]>> = EQUALITY_FIELDS,
): Promise<string[]> {
  // FerretDB's own pool settings (pool_max_conns…) are not PostgreSQL parameters.
  const url = new URL(postgresUrl);
  url.search = '';
  const client = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await preferCustomPlans(client, logger);
    const schema = mongoDatabase;
    const meta = await client
      .query<{ collection: string; table: string }>(
        `SELECT _jsonb->>'_id' AS collection, _jsonb->>'table' AS table FROM ${quoteIdent(schema)}._ferretdb_database_metadata`,
      )
      .catch(() => ({ rows: [] as Array<{ collection: string; table: string }> }));
    const tables = new Map(meta.rows.map((r) => [r.collection, r.table]));
    const made: string[] = [];
    for (const [collection, list] of Object.entries(fields)) {
      const table = tables.get(collection);
      if (!table) continue; // not created yet: the next start-up indexes it
      for (const field of list) {
        if (!/^[A-Za-z0-9_]+$/.test(field)) throw new Error(`unexpected field name ${field}`);
        await client.query(
          `CREATE INDEX IF NOT EXISTS ${quoteIdent(`${table}_gin_${field}`)} ON ${quoteIdent(schema)}.${quoteIdent(table)} USING gin ((_jsonb->'${field}') jsonb_path_ops)`,
        );
        made.push(`${collection}.${field}`);
      }
    }
    logger.info('FerretDB equality indexes ensured in PostgreSQL', { count: made.length });
    return made;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * FerretDB sends its queries as prepared statements with the field name as a parameter
 * (`_jsonb->$1 @> $2`). After five runs PostgreSQL may switch such a statement to a generic plan,
 * where the field is unknown and no expression index can match: the GIN indexes then go unused and
 * every lookup scans again (measured at 100,000 documents through FerretDB: 130 ms with the
 * indexes on a generic plan, 25 ms with custom plans). So the database plans each statement with
 * its values (`plan_cache_mode = force_custom_plan`, for new connections: FerretDB's pool
 * picks it up as it reconnects, at once when FerretDB starts after this). A role that may not
 * alter the database gets a warning saying what to run.
 */
export async function preferCustomPlans(client: pg.Client, logger: Logger): Promise<boolean> {
  const { rows } = await client.query<{ db: string; mode: string }>(`SELECT current_database() AS db, current_setting('plan_cache_mode') AS mode`);
  const db = rows[0]!.db;
  const already = await client.query<{ setconfig: string[] | null }>(
    `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0`,
    [db],
  );
  if (already.rows.some((r) => (r.setconfig ?? []).includes('plan_cache_mode=force_custom_plan'))) return true;
  try {
    await client.query(`ALTER DATABASE ${quoteIdent(db)} SET plan_cache_mode = force_custom_plan`);
    logger.info('FerretDB database set to plan each query with its values (plan_cache_mode = force_custom_plan)', { database: db });
    return true;
  } catch (err) {
    logger.warn("could not set plan_cache_mode on FerretDB's PostgreSQL database: its GIN indexes go unused once queries switch to generic plans", {
      database: db,
      error: (err as Error).message,
      fix: `ALTER DATABASE ${quoteIdent(db)} SET plan_cache_mode = force_custom_plan`,
    });
    return false;
  }
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
