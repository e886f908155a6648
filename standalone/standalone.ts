import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../shared/config/load-config';
import { createLogger, type Logger } from '../shared/logging/logger';
import { orchestratorSettingsSchema } from '../orchestrator/config';
import { startOrchestrator, type RunningOrchestrator } from '../orchestrator/orchestrator-service';
import { storageSettingsSchema } from '../storage-gateway/config';
import { startStorageGateway, type RunningStorageGateway } from '../storage-gateway/storage-service';
import { agentSettingsSchema } from '../compute-agent/config';
import { startComputeAgent, type RunningAgent } from '../compute-agent/agent-service';
import { startLocalInfrastructure, type LocalInfrastructure } from './local-infrastructure';

export interface Standalone {
  infra: LocalInfrastructure;
  orchestrator: RunningOrchestrator;
  /** The gateway and agent of the site `default`. */
  storage: RunningStorageGateway;
  agent: RunningAgent;
  /** The other sites (`options.sites`), each with its own gateway (own port, own directory) and its own agent. */
  sites: Array<{ site: string; storage: RunningStorageGateway; agent: RunningAgent }>;
  /** Stops a site's agent (it gives back its work) and starts a new one under another name (the demo's "site without a live agent"). */
  stopSiteAgent(site: string): Promise<void>;
  startSiteAgent(site: string, name: string): Promise<RunningAgent>;
  close(): Promise<void>;
}

/** Each service logs under its own name, at the level and in the format of the standalone logger. */
function serviceLogger(options: StandaloneOptions, service: string): Logger {
  return createLogger({ service, level: options.logger.level, format: options.logFormat });
}

export interface StandaloneOptions {
  dataDir: string;
  ephemeral: boolean;
  logger: Logger;
  logFormat?: 'json' | 'pretty';
  /** Progress lines of the local database start-up (FerretDB build, server choice). */
  log: (line: string) => void;
  /** Ports: 0 picks free ones (the demo); the defaults otherwise. */
  ports?: { orchestrator: number; storage: number };
  env?: NodeJS.ProcessEnv;
  /** More sites besides `default`, each given its own gateway and agent in this process (the demo's hospitals). */
  sites?: string[];
}

/**
 * All three services in one process on embedded defaults. They still talk to
 * each other over HTTP and RabbitMQ, exactly as when run separately.
 */
export async function startStandalone(options: StandaloneOptions): Promise<Standalone> {
  const env = options.env ?? process.env;
  const infra = await startLocalInfrastructure({ dataDir: options.dataDir, log: options.log, ephemeral: options.ephemeral });
  const common = {
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    AMQP_URL: infra.amqpUrl,
    AMQP_PREFIX: env.AMQP_PREFIX ?? (options.ephemeral ? `uplet-demo-${process.pid}` : 'uplet'),
    UPLET_API_KEYS: infra.apiKeysJson,
    UPLET_CAPABILITY_SECRET: infra.capabilitySecret,
  };
  const started: Array<{ close(): Promise<void> }> = [infra];
  try {
    // Gateways first: the orchestrator is told each site's gateway (SITES).
    const storage = await startStorageGateway(
      loadConfig(storageSettingsSchema, {
        ...env,
        ...common,
        STORAGE_DIR: env.STORAGE_DIR ?? path.join(options.dataDir, 'blobs'),
        STORAGE_PORT: String(options.ports?.storage ?? env.STORAGE_PORT ?? 8100),
      }),
      serviceLogger(options, 'storage-gateway'),
    );
    started.unshift(storage);
    const siteGateways: Array<{ site: string; storage: RunningStorageGateway }> = [];
    for (const site of options.sites ?? []) {
      const g = await startStorageGateway(
        loadConfig(storageSettingsSchema, {
          ...env,
          ...common,
          SITE: site,
          STORAGE_DIR: path.join(options.dataDir, 'sites', site, 'blobs'),
          STORAGE_PORT: '0',
          STORAGE_ACCESS_LOG: path.join(options.dataDir, 'sites', site, 'access.log'),
        }),
        serviceLogger(options, `storage-gateway@${site}`),
      );
      started.unshift(g);
      siteGateways.push({ site, storage: g });
    }
    const sitesJson = JSON.stringify(
      Object.fromEntries([['default', { gateway_url: storage.url }], ...siteGateways.map((g) => [g.site, { gateway_url: g.storage.url }])]),
    );
    const orchestrator = await startOrchestrator(
      loadConfig(orchestratorSettingsSchema, {
        ...env,
        ...common,
        MONGO_URL: infra.mongoUrl,
        MONGO_POOL_SIZE: '8',
        ...(infra.ferretPostgresUrl ? { FERRETDB_POSTGRES_URL: infra.ferretPostgresUrl } : {}),
        ORCHESTRATOR_PORT: String(options.ports?.orchestrator ?? env.ORCHESTRATOR_PORT ?? 8000),
        ...(siteGateways.length > 0 ? { SITES: sitesJson } : {}),
        HEARTBEAT_INTERVAL_MS: env.HEARTBEAT_INTERVAL_MS ?? '5000',
      }),
      serviceLogger(options, 'orchestrator'),
    );
    started.unshift(orchestrator);
    const agentAt = (site: string, storageUrl: string, name: string, workDir: string) =>
      startComputeAgent(
        loadConfig(agentSettingsSchema, {
          ...env,
          ...common,
          ORCHESTRATOR_URL: orchestrator.url,
          STORAGE_URL: storageUrl,
          AGENT_API_KEY: infra.apiKeys.compute.key,
          SITE: site,
          AGENT_NAME: name,
          AGENT_CONCURRENCY: env.AGENT_CONCURRENCY ?? '2',
          AGENT_WORK_DIR: workDir,
          HEARTBEAT_INTERVAL_MS: env.HEARTBEAT_INTERVAL_MS ?? '5000',
        }),
        serviceLogger(options, site === 'default' ? 'compute-agent' : `compute-agent@${site}`),
      );
    const agent = await agentAt('default', storage.url, env.AGENT_NAME ?? 'standalone-agent', env.AGENT_WORK_DIR ?? path.join(options.dataDir, 'agent-work'));
    started.unshift(agent);
    const sites: Standalone['sites'] = [];
    for (const g of siteGateways) {
      const a = await agentAt(g.site, g.storage.url, `agent-${g.site}`, path.join(options.dataDir, 'sites', g.site, 'agent-work'));
      started.unshift(a);
      sites.push({ ...g, agent: a });
    }
    let closing: Promise<void> | undefined;
    return {
      infra,
      orchestrator,
      storage,
      agent,
      sites,
      stopSiteAgent: async (site) => {
        const entry = sites.find((x) => x.site === site);
        if (entry) await entry.agent.close();
      },
      startSiteAgent: async (site, name) => {
        const entry = sites.find((x) => x.site === site);
        if (!entry) throw new Error(`no site ${site}`);
        const a = await agentAt(site, entry.storage.url, name, path.join(options.dataDir, 'sites', site, `agent-work-${name}`));
        started.unshift(a);
        entry.agent = a;
        return a;
      },
      close: () =>
        (closing ??= (async () => {
          // Agent first (it gives back its work), then the gateway, the orchestrator, the database.
          for (const s of started) await s.close().catch((e: Error) => options.logger.warn('shutdown step failed', { error: e.message }));
          if (options.ephemeral) fs.rmSync(options.dataDir, { recursive: true, force: true });
        })()),
    };
  } catch (err) {
    for (const s of started) await s.close().catch(() => undefined);
    throw err;
  }
}
