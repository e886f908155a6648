import type Joi from 'joi';
import { loadConfigOrExit } from './config/load-config';
import type { LoggingSettings } from './config/common-settings';
import { ConfigError } from './errors/uplet-error';
import { createLogger, type Logger } from './logging/logger';

/**
 * The `main` of every service: validate the configuration (exit 78 with one
 * line per problem), start, and stop cleanly on SIGTERM or SIGINT.
 */
export function runService<S extends LoggingSettings>(
  service: string,
  schema: Joi.ObjectSchema<S>,
  start: (settings: Readonly<S>, logger: Logger) => Promise<{ close(): Promise<void> }>,
): void {
  const settings = loadConfigOrExit(service, schema);
  const logger = createLogger({ service, level: settings.LOG_LEVEL, format: settings.LOG_FORMAT });
  start(settings, logger).then(
    (running) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          logger.info('shutting down', { signal });
          void running.close().then(
            () => process.exit(0),
            (err: Error) => {
              logger.error('shutdown failed', { error: err.message });
              process.exit(1);
            },
          );
        });
      }
    },
    (err: unknown) => {
      process.stderr.write(`${service}: ${err instanceof ConfigError ? err.message : ((err as Error).stack ?? String(err))}\n`);
      process.exit(err instanceof ConfigError ? 78 : 1);
    },
  );
}
