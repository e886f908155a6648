import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';

const execFileAsync = promisify(execFile);

/** Where FerretDB keeps its data: a PostgreSQL database, or an SQLite directory. */
export type FerretBackend = { kind: 'postgresql'; url: string; database: string } | { kind: 'sqlite'; directory: string };

/** Everything needed to find, restart or stop a FerretDB started by uplet (kept in a state file for test workers). */
export interface FerretDbState {
  binary: string;
  port: number;
  pid: number;
  backend: FerretBackend;
  logFile: string;
}

export async function buildFerretDb(log: (line: string) => void = () => undefined): Promise<string> {
  const script = path.join(sourceDir(), 'build-ferretdb.sh');
  log('locating or building FerretDB v1.24.2 (cached outside the repo)');
  const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) =>
    d
      .toString()
      .split('\n')
      .filter(Boolean)
      .forEach((l) => log(l)),
  );
  const code: number = await new Promise((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`building FerretDB failed (exit ${code}); set MONGO_URL to use another server`);
  return out.trim().split('\n').pop() ?? '';
}

/** build-ferretdb.sh sits beside this file's source, also when running from dist/. */
function sourceDir(): string {
  const candidates = [__dirname, path.resolve(__dirname, '../../../standalone/local-db')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'build-ferretdb.sh')));
  if (!found) throw new Error('standalone/local-db/build-ferretdb.sh not found');
  return found;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Creates a PostgreSQL database for one run (UTF8, locale C, as FerretDB needs). */
export async function createPostgresDatabase(name: string): Promise<FerretBackend> {
  await execFileAsync('createdb', ['-h', '127.0.0.1', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '-T', 'template0', name], { timeout: 15_000 });
  await preferCustomPlans(name);
  return postgresBackend(name);
}

/**
 * PostgreSQL allows 100 connections in all, shared by every FerretDB on the machine (parallel
 * test runs, a standalone instance): each takes UPLET_FERRETDB_PG_POOL (default 30), so three
 * fit. FerretDB deadlocks when concurrent updates exceed half its pool, so clients stay small.
 */
export function ferretPostgresPoolSize(): number {
  const raw = process.env.UPLET_FERRETDB_PG_POOL;
  const n = raw === undefined || raw === '' ? 30 : Number(raw);
  if (!Number.isInteger(n) || n < 4 || n > 95) throw new Error(`UPLET_FERRETDB_PG_POOL must be an integer from 4 to 95, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Before FerretDB connects: its prepared statements must never switch to generic plans, which
 * leave the GIN indexes unused (orchestrator/persistence/ferretdb-gin-indexes.ts, preferCustomPlans).
 */
export async function preferCustomPlans(database: string): Promise<void> {
  const quoted = `"${database.replace(/"/g, '""')}"`;
  await execFileAsync(
    'psql',
    ['-h', '127.0.0.1', '-U', 'postgres', '-d', database, '-qc', `ALTER DATABASE ${quoted} SET plan_cache_mode = force_custom_plan`],
    {
      timeout: 15_000,
    },
  );
}

export function postgresBackend(name: string): FerretBackend {
  return { kind: 'postgresql', database: name, url: `postgres://postgres@127.0.0.1:5432/${name}?pool_max_conns=${ferretPostgresPoolSize()}` };
}

export async function dropPostgresDatabase(name: string): Promise<void> {
  await execFileAsync('dropdb', ['-h', '127.0.0.1', '-U', 'postgres', '--if-exists', '--force', name], { timeout: 15_000 });
}

export function mongoUrlFor(port: number, dbName = 'uplet'): string {
  return `mongodb://127.0.0.1:${port}/${dbName}?directConnection=true`;
}

/** Starts FerretDB in its own process group (so a wedged one can be killed whole) and waits for a ping. */
export async function startFerretDb(binary: string, backend: FerretBackend, port: number, logFile: string): Promise<FerretDbState> {
  const backendArgs = backend.kind === 'postgresql' ? ['-postgresql-url', backend.url] : ['-sqlite-url', `file:${backend.directory}/`];
  if (backend.kind === 'sqlite') fs.mkdirSync(backend.directory, { recursive: true });
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(binary, ['-listen', `127.0.0.1:${port}`, ...backendArgs], { detached: true, stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  child.unref();
  const state: FerretDbState = { binary, port, pid: child.pid ?? -1, backend, logFile };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await pingMongo(mongoUrlFor(port), 1_000)) return state;
    await new Promise((r) => setTimeout(r, 150));
  }
  stopFerretDb(state);
  const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-2_000) : '';
  throw new Error(`FerretDB did not answer a ping on port ${port} within 20 s; its log ends with:\n${tail}`);
}

export function stopFerretDb(state: Pick<FerretDbState, 'pid'>, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(-state.pid, signal);
  } catch {
    /* already gone */
  }
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** A time-limited ping: a wedged FerretDB accepts connections but never answers. */
export async function pingMongo(url: string, timeoutMs: number): Promise<boolean> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs, socketTimeoutMS: timeoutMs, maxPoolSize: 1 });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.db('admin').command({ ping: 1 }),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('ping timed out')), timeoutMs))),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    await client.close(true).catch(() => undefined);
  }
}
