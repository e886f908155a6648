import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type Joi from 'joi';
import { loadConfig } from '../../shared/config/load-config';
import { orchestratorSettingsSchema } from '../../orchestrator/config';
import { storageSettingsSchema } from '../../storage-gateway/config';
import { agentSettingsSchema } from '../../compute-agent/config';

/**
 * No Docker engine here: the compose file is parsed, and every uplet service's
 * environment is validated against that service's own configuration schema.
 */
// merge: compose applies YAML merge keys (`<<: *anchor`), so the test does too.
const compose = parse(fs.readFileSync(path.join(__dirname, '../../docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, { environment?: Record<string, string>; healthcheck?: unknown; volumes?: string[]; secrets?: string[]; command?: string[] }>;
  volumes: Record<string, unknown>;
};

// A secret file stands in for the mounted /run/secrets file.
const apiKeysFile = path.join(__dirname, '../../docker-compose.yml');

function envOf(service: string): NodeJS.ProcessEnv {
  const env = { ...compose.services[service]!.environment } as NodeJS.ProcessEnv;
  for (const name of ['UPLET_API_KEYS_FILE', 'AGENT_API_KEY_FILE']) if (env[name]) env[name] = apiKeysFile;
  // Compose substitutes ${VAR:?message} from .env; stand in a value of the required form.
  for (const [name, value] of Object.entries(env)) if (/^\$\{[A-Z_]+:\?/.test(String(value))) env[name] = 'x'.repeat(40);
  return env;
}

const agents = Object.keys(compose.services).filter((name) => name.startsWith('compute-agent'));
const schemas: Record<string, Joi.ObjectSchema> = {
  orchestrator: orchestratorSettingsSchema,
  'storage-gateway': storageSettingsSchema,
  'storage-gateway-b': storageSettingsSchema,
  ...Object.fromEntries(agents.map((a) => [a, agentSettingsSchema])),
};

describe('docker-compose.yml', () => {
  test('has the production services, with health checks and volumes', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'compute-agent-1',
      'compute-agent-2',
      'mongo',
      'orchestrator',
      'rabbitmq',
      'storage-gateway',
      'storage-gateway-b',
    ]);
    for (const name of ['mongo', 'rabbitmq', 'orchestrator', 'storage-gateway', 'storage-gateway-b']) expect(compose.services[name]!.healthcheck).toBeDefined();
    expect(Object.keys(compose.volumes).sort()).toEqual(['agent-1-work', 'agent-2-work', 'blob-data', 'blob-data-b', 'mongo-data', 'rabbitmq-data']);
  });

  test("two sites: each gateway and agent names its site, the orchestrator knows each gateway, each agent uses its own site's gateway", () => {
    const env = (name: string) => compose.services[name]!.environment!;
    const sites = JSON.parse(env('orchestrator').SITES!) as Record<string, { gateway_url: string }>;
    const gateways = ['storage-gateway', 'storage-gateway-b'];
    expect(gateways.map((g) => env(g).SITE).sort()).toEqual(Object.keys(sites).sort());
    for (const g of gateways) expect(sites[env(g).SITE!]!.gateway_url).toBe(`http://${g}:8100`);
    for (const a of agents) expect(env(a).STORAGE_URL).toBe(sites[env(a).SITE!]!.gateway_url);
    expect(new Set(agents.map((a) => env(a).SITE)).size).toBe(2);
    expect(new Set(gateways.map((g) => JSON.stringify(compose.services[g]!.volumes))).size).toBe(2);
  });

  test('each compute agent has a key, a name and a work directory of its own', () => {
    // A lease is bound to the key that claimed it: agents sharing a key could heartbeat, release or report each other's work.
    const of = (pick: (a: (typeof compose.services)[string]) => unknown) => agents.map((a) => JSON.stringify(pick(compose.services[a]!)));
    expect(agents.length).toBeGreaterThan(1);
    for (const values of [of((a) => a.secrets), of((a) => a.environment?.AGENT_API_KEY_FILE), of((a) => a.environment?.AGENT_NAME), of((a) => a.volumes)]) {
      expect(new Set(values).size).toBe(agents.length);
    }
  });

  test.each(Object.keys(schemas))('the %s environment matches its configuration schema', (service) => {
    const settings = loadConfig(schemas[service]!, envOf(service));
    for (const [name, value] of Object.entries(compose.services[service]!.environment ?? {})) {
      if (name.endsWith('_FILE') || String(value).startsWith('${')) continue;
      expect({ name, value: String((settings as Record<string, unknown>)[name]) }).toEqual({ name, value: String(value) });
    }
  });

  test('every uplet service runs a built entry point that exists in the source tree', () => {
    for (const name of ['orchestrator', 'storage-gateway', 'storage-gateway-b', ...agents]) {
      const entry = compose.services[name]!.command![1]!;
      expect(fs.existsSync(path.join(__dirname, '../..', entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    }
  });
});
