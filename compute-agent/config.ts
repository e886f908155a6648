import os from 'node:os';
import Joi from 'joi';
import { siteName } from '../shared/contracts/sites';
import { withoutReservedPrefix } from '../shared/contracts/work-contract';
import { brokerSettings, loggingSettings, positiveInt, type BrokerSettings, type LoggingSettings } from '../shared/config/common-settings';

export interface AgentSettings extends LoggingSettings, BrokerSettings {
  ORCHESTRATOR_URL: string;
  STORAGE_URL: string;
  AGENT_API_KEY?: string;
  AGENT_API_KEY_FILE?: string;
  AGENT_NAME: string;
  /** The agent's site: it consumes only this site's queues and claims only this site's work. */
  SITE: string;
  AGENT_CONCURRENCY: number;
  AGENT_WORK_DIR: string;
  HEARTBEAT_INTERVAL_MS: number;
  SHUTDOWN_GRACE_MS: number;
  SANDBOX_ALLOW_UNSAFE: boolean;
  SANDBOX_CPU_SECONDS: number;
  SANDBOX_MEMORY_MB: number;
  SANDBOX_MAX_PROCESSES: number;
  SANDBOX_MAX_FILE_MB: number;
  SANDBOX_TIMEOUT_SECONDS: number;
  SANDBOX_LOG_KB: number;
  /** The Python that runs the training engine (Debian's, with scikit-learn, xgboost, Optuna, pandas). */
  TRAINING_PYTHON: string;
  /** The engine's package directory (compute-agent/training/python); default: found beside the agent's code. */
  TRAINING_ENGINE_DIR?: string;
  TRAINING_BLAS_CORETYPE?: string;
  /** Warm trial workers alive at most (compute-agent/training/warm-workers.ts); 0: every trial runs cold; default warmWorkersFor(AGENT_CONCURRENCY). */
  TRAINING_WARM_WORKERS?: number;
  /** Spare warm workers started ahead of need (imported, no data, no key); 0: none. */
  TRAINING_WARM_SPARES: number;
  /** A warm worker idle this long is killed. */
  TRAINING_WARM_IDLE_SECONDS: number;
  /** Distillation from a teacher URL: rows per request, per-request timeout, answer size limit, tries after a transport error. */
  TEACHER_BATCH_ROWS: number;
  TEACHER_TIMEOUT_MS: number;
  TEACHER_MAX_RESPONSE_BYTES: number;
  TEACHER_RETRIES: number;
}

export const agentSettingsSchema = Joi.object<AgentSettings>({
  ...loggingSettings,
  ...brokerSettings,
  ORCHESTRATOR_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .default('http://127.0.0.1:8000'),
  STORAGE_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .default('http://127.0.0.1:8100'),
  AGENT_API_KEY: Joi.string().min(16),
  AGENT_API_KEY_FILE: Joi.string(),
  AGENT_NAME: withoutReservedPrefix(
    Joi.string()
      .max(200)
      .pattern(/^[\x21-\x7e]+$/),
  ).default(os.hostname()),
  AGENT_CONCURRENCY: positiveInt(1).max(64),
  SITE: siteName().default('default'),
  AGENT_WORK_DIR: Joi.string().default('./.uplet/agent-work'),
  HEARTBEAT_INTERVAL_MS: positiveInt(10_000),
  SHUTDOWN_GRACE_MS: positiveInt(30_000),
  SANDBOX_ALLOW_UNSAFE: Joi.boolean().default(false),
  SANDBOX_CPU_SECONDS: positiveInt(600),
  SANDBOX_MEMORY_MB: positiveInt(2048).min(64),
  SANDBOX_MAX_PROCESSES: positiveInt(256),
  SANDBOX_MAX_FILE_MB: positiveInt(1024),
  SANDBOX_TIMEOUT_SECONDS: positiveInt(900),
  SANDBOX_LOG_KB: positiveInt(64),
  TRAINING_PYTHON: Joi.string()
    .pattern(/^\/usr\//)
    .default('/usr/bin/python3')
    .messages({ 'string.pattern.base': 'TRAINING_PYTHON must be under /usr (the sandbox binds only /usr)' }),
  TRAINING_ENGINE_DIR: Joi.string(),
  // OpenBLAS's core type names (Haswell, SkylakeX, Zen, Nehalem, ARMV8, ...): letters and digits.
  TRAINING_BLAS_CORETYPE: Joi.string()
    .pattern(/^[A-Za-z][A-Za-z0-9]{1,31}$/)
    .messages({ 'string.pattern.base': 'TRAINING_BLAS_CORETYPE must be an OpenBLAS core type name such as Haswell or Nehalem (letters and digits)' }),
  TRAINING_WARM_WORKERS: Joi.number().integer().min(0).max(64),
  // More spares than workers could never all be taken: refused when both are set (the default workers are at least six).
  TRAINING_WARM_SPARES: Joi.number()
    .integer()
    .min(0)
    .max(16)
    .default(1)
    .when('TRAINING_WARM_WORKERS', { is: Joi.exist(), then: Joi.number().max(Joi.ref('TRAINING_WARM_WORKERS')) }),
  TRAINING_WARM_IDLE_SECONDS: positiveInt(60).max(3600),
  TEACHER_BATCH_ROWS: positiveInt(256).max(100_000),
  TEACHER_TIMEOUT_MS: positiveInt(30_000).max(3_600_000),
  TEACHER_MAX_RESPONSE_BYTES: positiveInt(16 * 1024 * 1024).max(1024 * 1024 * 1024),
  TEACHER_RETRIES: Joi.number().integer().min(0).max(10).default(2),
})
  .or('AGENT_API_KEY', 'AGENT_API_KEY_FILE')
  .messages({ 'object.missing': 'AGENT_API_KEY or AGENT_API_KEY_FILE is required (a key with the compute role)' });

/**
 * Idle warm workers beyond the task slots, by default: a job gets up to six families by default
 * (orchestrator/training/families.ts) and its rounds interleave them, so with fewer workers than
 * families the least recently used one is always the next one needed and every trial starts cold.
 * Cost: an idle worker holds the imported stack and its typed dataset, about 125 MB resident
 * after the imports and 165–175 MB after trials on 16,000 x 20 (measured VmRSS); the busy ones are
 * at most AGENT_CONCURRENCY, each bounded by SANDBOX_MEMORY_MB as a cold command is. Idle ones go
 * after TRAINING_WARM_IDLE_SECONDS.
 */
export const WARM_IDLE_EXTRA = 5;

/** The default of TRAINING_WARM_WORKERS: one per task slot plus WARM_IDLE_EXTRA (at most the setting's maximum, 64). */
export function warmWorkersFor(concurrency: number): number {
  return Math.min(64, concurrency + WARM_IDLE_EXTRA);
}
