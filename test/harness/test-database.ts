import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db, MongoClient } from 'mongodb';
import { connectMongo } from '../../shared/db/mongo-connection';
import { pingMongo, startFerretDb, stopFerretDb, waitForExit } from '../../standalone/local-db/ferretdb-process';
import { readState, writeState, STATE_ENV } from './test-servers-state';

export interface TestDatabase {
  url: string;
  dbName: string;
  client: MongoClient;
  db: Db;
  /** Drops the database and closes the client. */
  cleanup(): Promise<void>;
}

/**
 * Pool sizes stay small: on FerretDB every client's pool together must stay
 * under half of its PostgreSQL pool (UPLET_FERRETDB_PG_POOL, 30), or concurrent updates deadlock it.
 */
export const TEST_POOL_SIZE = 4;

/** A database of this test file's own, on a server that answered a time-limited ping. */
export async function openTestDatabase(label: string): Promise<TestDatabase> {
  await ensureServerResponsive();
  const dbName = uniqueName(label).replace(/[^A-Za-z0-9_]/g, '_');
  const url = readState().mongoUrlTemplate.replace('{db}', dbName);
  const conn = await connectMongo(url, { maxPoolSize: TEST_POOL_SIZE });
  return {
    url,
    dbName,
    client: conn.client,
    db: conn.db,
    cleanup: async () => {
      await conn.db.dropDatabase().catch(() => undefined);
      await conn.close();
    },
  };
}

export function testDatabaseUrl(dbName: string): string {
  return readState().mongoUrlTemplate.replace('{db}', dbName);
}

export function uniqueName(label: string): string {
  return `t_${label}_${crypto.randomBytes(4).toString('hex')}`;
}

/**
 * A wedged FerretDB accepts connections and never answers: restart it (same
 * port, same PostgreSQL database) instead of waiting on it.
 */
export async function ensureServerResponsive(): Promise<void> {
  const state = readState();
  const probeUrl = state.mongoUrlTemplate.replace('{db}', 'admin');
  if (await pingMongo(probeUrl, 3_000)) return;
  if (!state.ferret) throw new Error(`database server ${state.serverDescription} does not answer a ping within 3 s`);
  const lock = `${process.env[STATE_ENV]}.restart-lock`;
  try {
    fs.mkdirSync(lock);
  } catch {
    // Another worker is restarting it; wait for its ping.
    for (let i = 0; i < 100 && !(await pingMongo(probeUrl, 1_000)); i++) await new Promise((r) => setTimeout(r, 200));
    return;
  }
  try {
    process.stderr.write(`[test servers] FerretDB (pid ${state.ferret.pid}) did not answer a ping: restarting it\n`);
    stopFerretDb(state.ferret, 'SIGKILL');
    await waitForExit(state.ferret.pid, 5_000);
    const ferret = await startFerretDb(
      state.ferret.binary,
      state.ferret.backend,
      state.ferret.port,
      path.join(path.dirname(state.ferret.logFile), 'ferretdb-restarted.log'),
    );
    writeState({ ...state, ferret });
  } finally {
    fs.rmdirSync(lock);
  }
}
