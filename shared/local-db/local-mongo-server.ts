import fs from 'node:fs';
import path from 'node:path';
import {
  buildFerretDb, createPostgresDatabase, dropPostgresDatabase, freePort, mongoUrlFor, postgresBackend, startFerretDb, stopFerretDb, waitForExit,
  type FerretDbState,
} from './ferretdb-process';

/**
 * The embedded MongoDB-protocol server used by the tests and by standalone mode
 * when no MONGO_URL is given, in this order: mongodb-memory-server (a real
 * mongod, where one can be downloaded or is cached), FerretDB on the local
 * PostgreSQL, FerretDB on SQLite in a data directory.
 */
export interface LocalMongoServer {
  /** URL without a database name; append `/<db>?directConnection=true` through urlFor(). */
  port: number;
  kind: 'mongodb-memory-server' | 'ferretdb-postgresql' | 'ferretdb-sqlite';
  /** Why this server was chosen (what failed before it). */
  reasons: string[];
  ferret?: FerretDbState;
  urlFor(dbName: string): string;
  stop(): Promise<void>;
}

export interface LocalMongoOptions {
  /** Where SQLite data and logs go. */
  dataDir: string;
  log?: (line: string) => void;
  /** Skip mongodb-memory-server (it needs a download this machine may not allow). */
  skipMemoryServer?: boolean;
  /** Keep the PostgreSQL database after stop (standalone mode keeps its data). */
  postgresDatabase?: string;
  keepData?: boolean;
}

export async function startLocalMongoServer(options: LocalMongoOptions): Promise<LocalMongoServer> {
  const log = options.log ?? (() => undefined);
  const reasons: string[] = [];
  fs.mkdirSync(options.dataDir, { recursive: true });

  if (!options.skipMemoryServer) {
    try {
      const { MongoMemoryServer } = await import('mongodb-memory-server');
      log('trying mongodb-memory-server');
      const mongod = await MongoMemoryServer.create();
      const port = Number(new URL(mongod.getUri()).port);
      return {
        port, kind: 'mongodb-memory-server', reasons,
        urlFor: (db) => `mongodb://127.0.0.1:${port}/${db}?directConnection=true`,
        stop: async () => void (await mongod.stop()),
      };
    } catch (err) {
      reasons.push(`mongodb-memory-server unavailable: ${firstLine(err)}`);
      log(reasons[reasons.length - 1]!);
    }
  }

  const binary = await buildFerretDb(log);
  const port = await freePort();
  const logFile = path.join(options.dataDir, `ferretdb-${port}.log`);
  const pgName = options.postgresDatabase ?? `uplet_${process.pid}_${Date.now().toString(36)}`;
  try {
    const backend = await createOrReusePostgres(pgName, options.postgresDatabase !== undefined);
    const ferret = await startFerretDb(binary, backend, port, logFile);
    return ferretServer('ferretdb-postgresql', ferret, reasons, async () => {
      if (!options.keepData) await dropPostgresDatabase(pgName).catch(() => undefined);
    });
  } catch (err) {
    reasons.push(`FerretDB on PostgreSQL unavailable: ${firstLine(err)}`);
    log(reasons[reasons.length - 1]!);
  }

  const directory = path.join(options.dataDir, 'ferretdb-sqlite');
  const ferret = await startFerretDb(binary, { kind: 'sqlite', directory }, port, logFile);
  return ferretServer('ferretdb-sqlite', ferret, reasons, async () => {
    if (!options.keepData) fs.rmSync(directory, { recursive: true, force: true });
  });
}

async function createOrReusePostgres(name: string, reuse: boolean) {
  try {
    return await createPostgresDatabase(name);
  } catch (err) {
    if (reuse && /already exists/.test(String((err as { stderr?: string }).stderr ?? err))) {
      return postgresBackend(name);
    }
    throw err;
  }
}

function ferretServer(kind: LocalMongoServer['kind'], ferret: FerretDbState, reasons: string[], cleanup: () => Promise<void>): LocalMongoServer {
  let stopping: Promise<void> | undefined;
  return {
    port: ferret.port, kind, reasons, ferret,
    urlFor: (db) => mongoUrlFor(ferret.port, db),
    stop: () => (stopping ??= (async () => {
      stopFerretDb(ferret);
      if (!(await waitForExit(ferret.pid, 5_000))) stopFerretDb(ferret, 'SIGKILL');
      await waitForExit(ferret.pid, 2_000);
      await cleanup();
    })()),
  };
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!.slice(0, 300);
}
