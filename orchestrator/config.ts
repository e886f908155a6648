import Joi from 'joi';
import {
  apiKeySettings,
  brokerSettings,
  capabilitySettings,
  loggingSettings,
  port,
  positiveInt,
  type ApiKeySettings,
  type BrokerSettings,
  type CapabilitySettings,
  type LoggingSettings,
} from '../shared/config/common-settings';

export interface OrchestratorSettings extends LoggingSettings, BrokerSettings, ApiKeySettings, CapabilitySettings {
  ORCHESTRATOR_HOST: string;
  ORCHESTRATOR_PORT: number;
  MONGO_URL: string;
  MONGO_POOL_SIZE: number;
  LEASE_SECONDS: number;
  MAX_ATTEMPTS: number;
  REAPER_INTERVAL_MS: number;
  SWEEP_INTERVAL_MS: number;
  REPUBLISH_AFTER_MS: number;
  BODY_LIMIT_BYTES: number;
  /** How long a client may take to send a whole request (headers and body). */
  REQUEST_TIMEOUT_MS: number;
  SHUTDOWN_GRACE_MS: number;
  /** How long a per-task download capability lasts. */
  CAPABILITY_SECONDS: number;
  /** The sites and their gateways, JSON `{"<site>": {"gateway_url": "…"}}`; `default` is STORAGE_URL unless named. */
  SITES?: string;
  /** The gateway of the site `default` (a one-machine install's only gateway). */
  STORAGE_URL: string;
  /** The agents' heartbeat interval: an agent is live while seen within 3 × this. */
  HEARTBEAT_INTERVAL_MS: number;
  /** FerretDB's PostgreSQL, when the database is FerretDB: the orchestrator adds GIN indexes there at start-up. */
  FERRETDB_POSTGRES_URL?: string;
  /** Teacher URLs a site's rows may be sent to, JSON `{"<site>": ["<url prefix>", …]}` (training/teacher-allowlist.ts); unset: none. */
  TEACHER_URL_ALLOWLIST?: string;
}

export const orchestratorSettingsSchema = Joi.object<OrchestratorSettings>({
  ...loggingSettings,
  ...brokerSettings,
  ...apiKeySettings,
  ...capabilitySettings,
  CAPABILITY_SECONDS: positiveInt(900).max(86_400),
  ORCHESTRATOR_HOST: Joi.string().hostname().default('127.0.0.1'),
  ORCHESTRATOR_PORT: port(8000),
  MONGO_URL: Joi.string()
    .uri({ scheme: ['mongodb', 'mongodb+srv'] })
    .required()
    .messages({ 'any.required': 'is required (e.g. mongodb://127.0.0.1:27017/uplet); `npm run demo` or standalone mode starts a local server for you' }),
  MONGO_POOL_SIZE: positiveInt(10).max(200),
  LEASE_SECONDS: positiveInt(60).max(86_400),
  MAX_ATTEMPTS: positiveInt(3).max(100),
  REAPER_INTERVAL_MS: positiveInt(2_000),
  SWEEP_INTERVAL_MS: positiveInt(15_000),
  REPUBLISH_AFTER_MS: positiveInt(60_000),
  BODY_LIMIT_BYTES: positiveInt(16 * 1024 * 1024),
  REQUEST_TIMEOUT_MS: positiveInt(60_000).min(100).max(3_600_000),
  SHUTDOWN_GRACE_MS: positiveInt(10_000),
  SITES: Joi.string().max(100_000),
  STORAGE_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .default('http://127.0.0.1:8100'),
  HEARTBEAT_INTERVAL_MS: positiveInt(10_000),
  FERRETDB_POSTGRES_URL: Joi.string().uri({ scheme: ['postgres', 'postgresql'] }),
  TEACHER_URL_ALLOWLIST: Joi.string().max(100_000),
});
