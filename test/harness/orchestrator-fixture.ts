import { readState } from './test-servers-state';
import { silentLogger } from '../../shared/logging/logger';
import { orchestratorSettingsSchema, type OrchestratorSettings } from '../../orchestrator/config';
import { loadConfig } from '../../shared/config/load-config';
import { startOrchestrator, type RunningOrchestrator } from '../../orchestrator/orchestrator-service';
import { openTestDatabase, type TestDatabase } from './test-database';
import { deleteTestTopology, testAmqpPrefix, testAmqpUrl } from './test-broker';
import { recordResponse, registerService } from './openapi-conformance';

/** One API key per role, as a deployment's UPLET_API_KEYS would hold them. */
export const TEST_KEYS = {
  organizer: { name: 'org', key: 'organizer-key-000000000000', roles: ['organizer'] },
  provider: { name: 'provider-a', key: 'provider-key-000000000000', roles: ['data-provider'] },
  provider2: { name: 'provider-b', key: 'provider-key-b-0000000000', roles: ['data-provider'] },
  author: { name: 'author', key: 'author-key-00000000000000', roles: ['algo-author'] },
  compute: { name: 'node-1', key: 'compute-key-1-00000000000', roles: ['compute'] },
  compute2: { name: 'node-2', key: 'compute-key-2-00000000000', roles: ['compute'] },
  reader: { name: 'reader', key: 'reader-key-00000000000000', roles: ['organizer'] },
  admin: { name: 'admin', key: 'admin-key-000000000000000', roles: ['admin'] },
  /** A provider key bound to the site `b`: it may register data only there. */
  providerAtB: { name: 'provider-at-b', key: 'provider-key-site-b-000000', roles: ['data-provider'], site: 'b' },
} as const;
export type TestRole = keyof typeof TEST_KEYS;

/** Shared by the test orchestrators and storage gateways, as in a deployment. */
export const TEST_CAPABILITY_SECRET = 'test-capability-secret-0123456789abcdef';

export interface Reply {
  status: number;
  body: any;
}

export interface TestOrchestrator {
  orchestrator: RunningOrchestrator;
  database: TestDatabase;
  prefix: string;
  url: string;
  call(role: TestRole | null, method: string, path: string, body?: unknown): Promise<Reply>;
  cleanup(): Promise<void>;
}

/** One HTTP call to an uplet service with a test role's key (or none); a JSON body is parsed. */
export async function callAs(baseUrl: string, role: TestRole | null, method: string, path: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (role) headers['x-api-key'] = TEST_KEYS[role].key;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const send = () =>
    fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  let res: Response;
  try {
    res = await send();
  } catch (err) {
    // A kept-alive connection the server closed just as it was reused (the keep-alive race):
    // a read is safe to send again; anything else is the test's to see.
    if (method !== 'GET' || !/ECONNRESET|other side closed/.test(String((err as { cause?: unknown }).cause ?? err))) throw err;
    res = await send();
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  recordResponse(baseUrl, method, path, res.status, parsed, res.headers.get('content-type'));
  return { status: res.status, body: parsed };
}

/** On FerretDB over PostgreSQL, the orchestrator adds its equality indexes there, as in production. */
function ferretPostgres(): { FERRETDB_POSTGRES_URL?: string } {
  const backend = readState().ferret?.backend;
  return backend?.kind === 'postgresql' ? { FERRETDB_POSTGRES_URL: backend.url } : {};
}

export async function startTestOrchestrator(label: string, overrides: Partial<Record<keyof OrchestratorSettings, string>> = {}): Promise<TestOrchestrator> {
  const database = await openTestDatabase(label);
  const prefix = testAmqpPrefix(label);
  const settings = loadConfig(orchestratorSettingsSchema, {
    MONGO_URL: database.url,
    MONGO_POOL_SIZE: '6',
    AMQP_URL: testAmqpUrl(),
    AMQP_PREFIX: prefix,
    ORCHESTRATOR_PORT: '0',
    UPLET_API_KEYS: JSON.stringify(Object.values(TEST_KEYS)),
    UPLET_CAPABILITY_SECRET: TEST_CAPABILITY_SECRET,
    LOG_LEVEL: 'error',
    ...ferretPostgres(),
    ...overrides,
  });
  const orchestrator = await startOrchestrator(settings, silentLogger());
  registerService(orchestrator.url, 'orchestrator');
  const call = (role: TestRole | null, method: string, path: string, body?: unknown) => callAs(orchestrator.url, role, method, path, body);
  return {
    orchestrator,
    database,
    prefix,
    url: orchestrator.url,
    call,
    cleanup: async () => {
      await orchestrator.close();
      await database.cleanup();
      await deleteTestTopology(prefix, overrides.SITES ? ['default', ...Object.keys(JSON.parse(overrides.SITES) as object)] : ['default']);
    },
  };
}
