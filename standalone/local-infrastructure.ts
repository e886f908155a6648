import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startLocalMongoServer, type LocalMongoServer } from './local-db/local-mongo-server';
import { redactUrl } from '../shared/messaging/amqp-broker';
import { checkBrokerReachable } from './check-broker';

/**
 * The embedded defaults of standalone mode: MONGO_URL or a local
 * MongoDB-protocol server, AMQP_URL or the local RabbitMQ, and API keys (the
 * given ones, or a generated set written to the data directory).
 */
export interface LocalInfrastructure {
  mongoUrl: string;
  mongoDescription: string;
  amqpUrl: string;
  apiKeys: StandaloneKeys;
  apiKeysJson: string;
  /** Where the keys are written (persistent standalone only). */
  keysFile?: string;
  /** Signs per-task download capabilities (orchestrator) and checks them (storage gateway). */
  capabilitySecret: string;
  /** The PostgreSQL of the local FerretDB, where the orchestrator adds its equality indexes. */
  ferretPostgresUrl?: string;
  close(): Promise<void>;
}

export interface KeyEntry {
  name: string;
  key: string;
  roles: string[];
}

/** The principals the demo and a first-time user need; each with one role, as in a real deployment. */
export interface StandaloneKeys {
  organizer: KeyEntry;
  providers: KeyEntry[];
  author: KeyEntry;
  compute: KeyEntry;
  analyst: KeyEntry;
  admin: KeyEntry;
}

export interface LocalInfrastructureOptions {
  dataDir: string;
  log: (line: string) => void;
  /** A fresh database for this run (the demo), rather than the data directory's persistent one. */
  ephemeral: boolean;
}

export async function startLocalInfrastructure(options: LocalInfrastructureOptions): Promise<LocalInfrastructure> {
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  await checkBrokerReachable(amqpUrl);

  let server: LocalMongoServer | undefined;
  let mongoUrl: string;
  let mongoDescription: string;
  if (process.env.MONGO_URL) {
    mongoUrl = process.env.MONGO_URL;
    mongoDescription = `MONGO_URL (${redactUrl(mongoUrl)})`;
  } else {
    server = await startLocalMongoServer({
      dataDir: options.dataDir,
      log: options.log,
      skipMemoryServer: process.env.UPLET_SKIP_MEMORY_SERVER === '1',
      ...(options.ephemeral ? {} : { postgresDatabase: standaloneDatabaseName(options.dataDir), keepData: true }),
    });
    mongoUrl = server.urlFor('uplet');
    const where = !options.ephemeral && server.kind === 'ferretdb-postgresql' ? `, PostgreSQL database ${standaloneDatabaseName(options.dataDir)}` : '';
    mongoDescription = `${server.kind}${where}${server.reasons.length ? ` (${server.reasons.join('; ')})` : ''}`;
  }

  // A persistent standalone keeps its keys across restarts; the demo makes fresh ones.
  const keysFile = path.join(options.dataDir, 'api-keys.json');
  const apiKeys = generatedKeys(options.ephemeral ? [] : readKeysFile(keysFile));
  if (!options.ephemeral) writeKeysFile(keysFile, apiKeys);
  const apiKeysJson = JSON.stringify(Object.values(apiKeys).flat());
  const capabilitySecret = process.env.UPLET_CAPABILITY_SECRET ?? crypto.randomBytes(32).toString('hex');
  const ferretPostgresUrl = server?.ferret?.backend.kind === 'postgresql' ? server.ferret.backend.url : undefined;
  return {
    mongoUrl,
    mongoDescription,
    amqpUrl,
    apiKeys,
    apiKeysJson,
    capabilitySecret,
    ...(ferretPostgresUrl ? { ferretPostgresUrl } : {}),
    ...(options.ephemeral ? {} : { keysFile }),
    close: async () => void (await server?.stop()),
  };
}

/**
 * The PostgreSQL database of a persistent standalone: one per data directory (a short
 * hash of its real path), so two instances never share one, and a restart of the same
 * directory finds its data again.
 */
export function standaloneDatabaseName(dataDir: string): string {
  const real = fs.realpathSync(path.resolve(dataDir));
  return `uplet_sa_${crypto.createHash('sha256').update(real).digest('hex').slice(0, 12)}`;
}

/** One key per role of the demo's cast; a key already in `known` under the same name is kept. */
function generatedKeys(known: readonly KeyEntry[]): StandaloneKeys {
  const entry = (name: string, roles: string[]): KeyEntry => ({
    name,
    key: known.find((k) => k.name === name)?.key ?? `${name}-${crypto.randomBytes(16).toString('hex')}`,
    roles,
  });
  return {
    organizer: entry('organizer', ['organizer']),
    providers: ['hospital-a', 'hospital-b', 'hospital-c'].map((n) => entry(n, ['data-provider'])),
    author: entry('algo-author', ['algo-author']),
    compute: entry('compute-node', ['compute']),
    analyst: entry('analyst', ['organizer']),
    admin: entry('admin', ['admin']),
  };
}

/** Writes the keys where only this user can read them (the UPLET_API_KEYS_FILE format), so an operator can use the API by hand. */
function writeKeysFile(file: string, keys: StandaloneKeys): void {
  fs.writeFileSync(file, `${JSON.stringify(Object.values(keys).flat(), null, 2)}\n`, { mode: 0o600 });
}

function readKeysFile(file: string): KeyEntry[] {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as KeyEntry[];
  } catch {
    return [];
  }
}
