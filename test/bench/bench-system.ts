import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/config/load-config';
import winston from 'winston';
import { silentLogger, type Logger } from '../../shared/logging/logger';
import { orchestratorSettingsSchema } from '../../orchestrator/config';
import { startOrchestrator, type RunningOrchestrator } from '../../orchestrator/orchestrator-service';
import { storageSettingsSchema } from '../../storage-gateway/config';
import { startStorageGateway, type RunningStorageGateway } from '../../storage-gateway/storage-service';
import { agentSettingsSchema } from '../../compute-agent/config';
import { startComputeAgent, type RunningAgent } from '../../compute-agent/agent-service';
import { connectMongo } from '../../shared/db/mongo-connection';
import { EQUALITY_FIELDS, ensureFerretGinIndexes } from '../../orchestrator/persistence/ferretdb-gin-indexes';
import { StorageClient } from '../../shared/http/storage-client';
import { AmqpBroker } from '../../shared/messaging/amqp-broker';
import { workTopology } from '../../shared/messaging/work-topology';
import { busyShare, machineTicks } from './process-cpu';

export const BENCH_KEYS = {
  org: { name: 'org', key: 'bench-organizer-key-0000', roles: ['organizer', 'data-provider', 'algo-author'] },
  node: { name: 'node', key: 'bench-compute-key-000000', roles: ['compute'] },
};

/**
 * FerretDB's PostgreSQL when the benchmark runs on it (set by run-benchmarks): the orchestrator
 * adds its equality indexes there at start-up, and every raw-driver baseline gets the same ones.
 */
export function benchFerretPostgres(): string | undefined {
  return process.env.UPLET_BENCH_FERRET_PG || undefined;
}

/** Gives a baseline's database the same equality indexes the orchestrator gives its own. */
export async function indexLikeTheOrchestrator(db: import('mongodb').Db): Promise<void> {
  const pg = benchFerretPostgres();
  if (!pg) return;
  await Promise.all(Object.keys(EQUALITY_FIELDS).map((name) => db.createCollection(name).catch(() => undefined)));
  await ensureFerretGinIndexes(pg, db.databaseName, silentLogger());
}

/** The three services in this process, on a database and queues of the benchmark's own. */
export interface BenchSystem {
  orchestrator: RunningOrchestrator;
  storage: RunningStorageGateway;
  agent?: RunningAgent;
  /** Every agent started (options.agents of them, 1 by default); `agent` is the first. */
  agents: RunningAgent[];
  dir: string;
  /** The AMQP prefix of its queues and events exchange. */
  prefix: string;
  /** The broker it talks over. */
  amqpUrl: string;
  call(method: string, p: string, body?: unknown): Promise<any>;
  storageAs(who: keyof typeof BENCH_KEYS): StorageClient;
  close(): Promise<void>;
}

export async function startBenchSystem(
  mongoUrlFor: (db: string) => string,
  amqpUrl: string,
  options: {
    agentConcurrency?: number;
    agents?: number;
    orchestrator?: Record<string, string>;
    agent?: Record<string, string>;
    /** Agents as processes of their own (node dist/compute-agent/main.js), as deployed, instead of in this process. */
    agentProcesses?: boolean;
  } = {},
): Promise<BenchSystem> {
  const id = crypto.randomBytes(3).toString('hex');
  const dbName = `bench_${id}`;
  const prefix = `bench-${id}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-bench-'));
  const secret = crypto.randomBytes(24).toString('hex');
  const keys = JSON.stringify(Object.values(BENCH_KEYS));
  const orchestrator = await startOrchestrator(
    loadConfig(orchestratorSettingsSchema, {
      MONGO_URL: mongoUrlFor(dbName),
      MONGO_POOL_SIZE: '10',
      AMQP_URL: amqpUrl,
      AMQP_PREFIX: prefix,
      ORCHESTRATOR_PORT: '0',
      UPLET_API_KEYS: keys,
      UPLET_CAPABILITY_SECRET: secret,
      SWEEP_INTERVAL_MS: '3600000',
      LEASE_SECONDS: '60',
      ...(benchFerretPostgres() ? { FERRETDB_POSTGRES_URL: benchFerretPostgres() } : {}),
      ...options.orchestrator,
    }),
    silentLogger(),
  );
  const storage = await startStorageGateway(
    loadConfig(storageSettingsSchema, {
      STORAGE_DIR: path.join(dir, 'blobs'),
      STORAGE_PORT: '0',
      UPLET_API_KEYS: keys,
      UPLET_CAPABILITY_SECRET: secret,
    }),
    silentLogger(),
  );
  const agents: RunningAgent[] = [];
  const agentProcesses: ChildProcess[] = [];
  if (options.agentConcurrency !== undefined) {
    for (let i = 0; i < (options.agents ?? 1); i++) {
      const env = {
        ORCHESTRATOR_URL: orchestrator.url,
        STORAGE_URL: storage.url,
        AMQP_URL: amqpUrl,
        AMQP_PREFIX: prefix,
        AGENT_API_KEY: BENCH_KEYS.node.key,
        AGENT_NAME: i === 0 ? 'bench-agent' : `bench-agent-${i + 1}`,
        AGENT_CONCURRENCY: String(options.agentConcurrency),
        AGENT_WORK_DIR: path.join(dir, i === 0 ? 'work' : `work-${i + 1}`),
        HEARTBEAT_INTERVAL_MS: '10000',
        ...options.agent,
      };
      if (options.agentProcesses) agentProcesses.push(await startAgentProcess(env));
      else agents.push(await startComputeAgent(loadConfig(agentSettingsSchema, env), agentLogger()));
    }
  }
  const agent = agents[0];
  return {
    orchestrator,
    storage,
    agent,
    agents,
    dir,
    prefix,
    amqpUrl,
    call: async (method, p, body) => {
      const res = await fetch(`${orchestrator.url}${p}`, {
        method,
        headers: { 'x-api-key': BENCH_KEYS.org.key, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const json = (await res.json()) as any;
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
    storageAs: (who) => new StorageClient({ baseUrl: storage.url, apiKey: BENCH_KEYS[who].key }),
    close: async () => {
      for (const a of agents) await a.close();
      for (const p of agentProcesses) await stopAgentProcess(p);
      await storage.close();
      await orchestrator.close();
      const db = await connectMongo(mongoUrlFor(dbName), { maxPoolSize: 1 });
      await db.db.dropDatabase().catch(() => undefined);
      await db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A compute agent in a process of its own, from the built sources beside this file; resolves once it consumes. */
async function startAgentProcess(env: Record<string, string>): Promise<ChildProcess> {
  const main = path.resolve(__dirname, '../../compute-agent/main.js');
  const child = spawn(process.execPath, [main], { env: { ...process.env, ...env, LOG_LEVEL: 'info', LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the agent process did not get ready in 30 s:\n${output.slice(-2000)}`)), 30_000);
    const onData = (d: Buffer) => {
      output += d.toString('utf8');
      if (output.includes('compute agent ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the agent process exited with ${code}:\n${output.slice(-2000)}`));
    });
  });
  // Drained from now on, unread: its log is not measured.
  child.stdout.removeAllListeners('data').resume();
  child.stderr.removeAllListeners('data').resume();
  return child;
}

async function stopAgentProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Calls `check` every `everyMs`, and at once when `wake` settles (an event heard), until it gives
 * something other than undefined or false; that value is returned. Throws after `timeoutMs`.
 */
export async function until<T>(
  check: () => Promise<T | undefined | false>,
  { everyMs = 100, timeoutMs = 120_000, wake }: { everyMs?: number; timeoutMs?: number; wake?: Promise<unknown> } = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms`);
    await Promise.race([new Promise((r) => setTimeout(r, everyMs)), ...(wake ? [wake] : [])]);
  }
}

/** Silent, unless UPLET_BENCH_AGENT_LOG names a file: then the in-process agents' info lines go there as JSON (each task's `ms` timeline). */
function agentLogger(): Logger {
  const file = process.env.UPLET_BENCH_AGENT_LOG;
  if (!file) return silentLogger();
  return winston.createLogger({ level: 'info', format: winston.format.json(), transports: [new winston.transports.File({ filename: file })] });
}

/**
 * Hears the system's events (`<subject>.<status>` on its events exchange) instead of polling the
 * API: a poll every 50 ms kept queries in flight on the orchestrator and FerretDB while they worked
 * (the job GET lists every trial), loading what the bench measures.
 */
export async function hearEvents(
  amqpUrl: string,
  prefix: string,
  pattern: string,
  onEvent: (event: { subject: string; id: string; status: string }) => void,
): Promise<{ close(): Promise<void> }> {
  const broker = new AmqpBroker({ url: amqpUrl, topology: workTopology(prefix), logger: silentLogger() });
  await broker.start();
  await broker.subscribe(workTopology(prefix).eventsExchange, pattern, (content) => onEvent(JSON.parse(content.toString('utf8'))));
  return { close: () => broker.close() };
}

/** The machine's idle share of CPU time over `ms` (all cores, from /proc/stat); 1 where /proc/stat is missing. */
async function idleShare(ms: number): Promise<number> {
  if (!fs.existsSync('/proc/stat')) return 1;
  const a = machineTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineTicks();
  const busy = busyShare(a, b);
  return busy === undefined ? 1 : 1 - busy;
}

/**
 * Waits (up to `timeoutMs`) until less than `busyCores` of the machine's cores were busy over a
 * `windowMs` window: a timed run then starts with what the system does in the background over
 * (an agent's spare importing the scientific stack, the database's autovacuum), so neither side
 * of a comparison pays for it. Says so through `log` when the machine never got that quiet.
 */
export async function untilMachineQuiet(log: (line: string) => void, busyCores = 0.3, windowMs = 500, timeoutMs = 15_000): Promise<void> {
  const idle = 1 - busyCores / os.cpus().length;
  const deadline = Date.now() + timeoutMs;
  let share = await idleShare(windowMs);
  while (share < idle && Date.now() < deadline) share = await idleShare(windowMs);
  if (share < idle) log(`the machine stayed busy (${((1 - share) * os.cpus().length).toFixed(1)} cores over ${windowMs} ms); timing anyway`);
}
