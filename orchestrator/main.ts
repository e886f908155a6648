import { loadConfigOrExit } from '../shared/config/load-config';
import { ConfigError } from '../shared/errors/uplet-error';
import { createLogger } from '../shared/logging/logger';
import { orchestratorSettingsSchema } from './config';
import { startOrchestrator } from './orchestrator-service';

async function main(): Promise<void> {
  const settings = loadConfigOrExit('orchestrator', orchestratorSettingsSchema);
  const logger = createLogger({ service: 'orchestrator', level: settings.LOG_LEVEL, format: settings.LOG_FORMAT });
  const orchestrator = await startOrchestrator(settings, logger);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info('shutting down', { signal });
      void orchestrator.close().then(() => process.exit(0));
    });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`orchestrator: ${err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err)}\n`);
  process.exit(err instanceof ConfigError ? 78 : 1);
});
