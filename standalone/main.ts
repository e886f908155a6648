import path from 'node:path';
import { createLogger } from '../shared/logging/logger';
import { ConfigError, DependencyUnavailableError } from '../shared/errors/uplet-error';
import { startStandalone } from './standalone';

/** `npm run start:standalone`: the three services in one process, data kept in ./.uplet/standalone. */
async function main(): Promise<void> {
  const dataDir = path.resolve(process.env.UPLET_DATA_DIR ?? '.uplet/standalone');
  const logFormat = process.stdout.isTTY ? 'pretty' : 'json';
  const logger = createLogger({ service: 'standalone', level: process.env.LOG_LEVEL ?? 'info', format: logFormat });
  const standalone = await startStandalone({
    dataDir,
    ephemeral: false,
    logger,
    logFormat,
    log: (l) => logger.info(l),
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
  });
  logger.info('uplet standalone is up', {
    orchestrator: standalone.orchestrator.url,
    storage: standalone.storage.url,
    database: standalone.infra.mongoDescription,
    apiKeys: standalone.infra.keysFile,
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void standalone.close().then(() => process.exit(0)));
  }
}

main().catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof DependencyUnavailableError;
  process.stderr.write(`standalone: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
  process.exit(err instanceof ConfigError ? 78 : 1);
});
