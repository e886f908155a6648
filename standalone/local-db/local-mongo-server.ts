import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  buildFerretDb,
  createPostgresDatabase,
  dropPostgresDatabase,
  freePort,
  mongoUrlFor,
  postgresBackend,
  preferCustomPlans,
  startFerretDb,
  stopFerretDb,
  waitForExit,
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
    const memoryServer = await tryMemoryServer();
    if ('server' in memoryServer) {
      log('mongodb-memory-server: started');
      return { ...memoryServer.server, reasons };
    }
    reasons.push(`mongodb-memory-server skipped: ${memoryServer.skipped}`);
    log(reasons[reasons.length - 1]!);
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
  return ferretServer('ferretdb-sqlite', ferret, reasons, () => {
    if (!options.keepData) fs.rmSync(directory, { recursive: true, force: true });
    return Promise.resolve();
  });
}

/**
 * mongodb-memory-server needs a mongod: one it finds on disk, or one it downloads. An air-gapped
 * machine cannot download, so a quick look at the download host decides whether to try at all
 * (its own attempt spends about 7 s in three retries before failing).
 */
async function tryMemoryServer(): Promise<{ server: Omit<LocalMongoServer, 'reasons'> } | { skipped: string }> {
  const { DryMongoBinary, MongoMemoryServer } = await import('mongodb-memory-server');
  const cached = await DryMongoBinary.locateBinary(DryMongoBinary.getEnsuredOptions()).catch(() => undefined);
  if (!cached) {
    const mirror = process.env.MONGOMS_DOWNLOAD_MIRROR ?? 'https://fastdl.mongodb.org';
    const reachable = await canConnect(mirror, 2_000);
    if (reachable !== true) return { skipped: `no mongod on this machine and its download host ${new URL(mirror).host} is unreachable (${reachable})` };
  }
  try {
    const mongod = await MongoMemoryServer.create();
    const port = Number(new URL(mongod.getUri()).port);
    return {
      server: {
        port,
        kind: 'mongodb-memory-server',
        urlFor: (db) => `mongodb://127.0.0.1:${port}/${db}?directConnection=true`,
        stop: async () => void (await mongod.stop()),
      },
    };
  } catch (err) {
    return { skipped: firstLine(err) };
  }
}

/** True when a TCP connection to the URL's host and port opens within the timeout; else why not. */
async function canConnect(url: string, timeoutMs: number): Promise<true | string> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === 'http:' ? 80 : 443));
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port, timeout: timeoutMs });
    const done = (result: true | string) => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(`no answer within ${timeoutMs} ms`));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

async function createOrReusePostgres(name: string, reuse: boolean) {
  try {
    return await createPostgresDatabase(name);
  } catch (err) {
    if (reuse && /already exists/.test(String((err as { stderr?: string }).stderr ?? err))) {
      await preferCustomPlans(name);
      return postgresBackend(name);
    }
    throw err;
  }
}

function ferretServer(kind: LocalMongoServer['kind'], ferret: FerretDbState, reasons: string[], cleanup: () => Promise<void>): LocalMongoServer {
  let stopping: Promise<void> | undefined;
  return {
    port: ferret.port,
    kind,
    reasons,
    ferret,
    urlFor: (db) => mongoUrlFor(ferret.port, db),
    stop: () =>
      (stopping ??= (async () => {
        stopFerretDb(ferret);
        if (!(await waitForExit(ferret.pid, 5_000))) stopFerretDb(ferret, 'SIGKILL');
        await waitForExit(ferret.pid, 2_000);
        await cleanup();
      })()),
  };
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .split('\n')[0]!
    .slice(0, 300);
}
