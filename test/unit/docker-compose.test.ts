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
const compose = parse(fs.readFileSync(path.join(__dirname, '../../docker-compose.yml'), 'utf8')) as {
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

const schemas: Record<string, Joi.ObjectSchema> = { orchestrator: orchestratorSettingsSchema, 'storage-gateway': storageSettingsSchema, 'compute-agent': agentSettingsSchema };

describe('docker-compose.yml', () => {
  test('has the production services, with health checks and volumes', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['compute-agent', 'mongo', 'orchestrator', 'rabbitmq', 'storage-gateway']);
    for (const name of ['mongo', 'rabbitmq', 'orchestrator', 'storage-gateway']) expect(compose.services[name]!.healthcheck).toBeDefined();
    expect(Object.keys(compose.volumes).sort()).toEqual(['agent-work', 'blob-data', 'mongo-data', 'rabbitmq-data']);
  });

  test.each(Object.keys(schemas))('the %s environment matches its configuration schema', (service) => {
    const settings = loadConfig(schemas[service]!, envOf(service));
    for (const [name, value] of Object.entries(compose.services[service]!.environment ?? {})) {
      if (name.endsWith('_FILE') || String(value).startsWith('${')) continue;
      expect({ name, value: String((settings as Record<string, unknown>)[name]) }).toEqual({ name, value: String(value) });
    }
  });

  test('every uplet service runs a built entry point that exists in the source tree', () => {
    for (const name of ['orchestrator', 'storage-gateway', 'compute-agent']) {
      const entry = compose.services[name]!.command![1]!;
      expect(fs.existsSync(path.join(__dirname, '../..', entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    }
  });
});
