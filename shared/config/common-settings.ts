import Joi from 'joi';

/** Settings every service reads; each service's own schema extends these. */
export interface LoggingSettings {
  LOG_LEVEL: 'error' | 'warn' | 'info' | 'debug';
  LOG_FORMAT: 'json' | 'pretty';
}

export interface BrokerSettings {
  AMQP_URL: string;
  /** Prefix of every queue and exchange name, so several deployments (or test files) share one broker. */
  AMQP_PREFIX: string;
}

export interface ApiKeySettings {
  UPLET_API_KEYS?: string;
  UPLET_API_KEYS_FILE?: string;
}

export const loggingSettings = {
  LOG_LEVEL: Joi.string().valid('error', 'warn', 'info', 'debug').default('info'),
  LOG_FORMAT: Joi.string()
    .valid('json', 'pretty')
    .default(process.stdout.isTTY ? 'pretty' : 'json'),
};

export const brokerSettings = {
  AMQP_URL: Joi.string()
    .uri({ scheme: ['amqp', 'amqps'] })
    .default('amqp://guest:guest@127.0.0.1:5672'),
  AMQP_PREFIX: Joi.string()
    .pattern(/^[A-Za-z0-9_.-]{1,100}$/)
    .default('uplet')
    .messages({ 'string.pattern.base': 'must be 1-100 letters, digits, dots, dashes or underscores' }),
};

export const apiKeySettings = {
  UPLET_API_KEYS: Joi.string().allow(''),
  UPLET_API_KEYS_FILE: Joi.string().allow(''),
};

export const port = (fallback: number) => Joi.number().integer().min(0).max(65535).default(fallback);
export const positiveInt = (fallback: number) => Joi.number().integer().min(1).default(fallback);

export interface CapabilitySettings {
  /** Shared by the orchestrator (signs) and the storage gateways (check). */
  UPLET_CAPABILITY_SECRET: string;
}

export const capabilitySettings = {
  UPLET_CAPABILITY_SECRET: Joi.string().min(32).required().messages({
    'any.required':
      'is required: a secret of at least 32 characters shared by the orchestrator and the storage gateways (it signs the per-task download capabilities)',
    'string.min': 'must be at least 32 characters',
  }),
};
