import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkBrokerReachable } from '../../standalone/check-broker';
import { startLocalMongoServer, type LocalMongoServer } from '../../standalone/local-db/local-mongo-server';
import { connectMongo, describeServer } from '../../shared/db/mongo-connection';
import { redactUrl } from '../../shared/messaging/amqp-broker';
import { STATE_ENV, writeState } from './test-servers-state';

/**
 * Starts what the tests need once per run: a MongoDB-protocol server (MONGO_URL,
 * else mongodb-memory-server, else FerretDB on PostgreSQL or SQLite) and checks
 * that RabbitMQ answers. Each test file then makes its own database and queues.
 */
export default async function globalSetup(): Promise<void> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-test-'));
  process.env[STATE_ENV] = path.join(runDir, 'servers.json');
  const log = (line: string) => process.stderr.write(`[test servers] ${line}\n`);

  const amqpUrl = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
  await checkBrokerReachable(amqpUrl);

  let mongoUrlTemplate: string;
  let server: LocalMongoServer | undefined;
  let why: string;
  if (process.env.MONGO_URL) {
    const u = new URL(process.env.MONGO_URL);
    u.pathname = '/{db}';
    mongoUrlTemplate = u.toString().replace('%7Bdb%7D', '{db}');
    why = 'MONGO_URL is set';
  } else {
    server = await startLocalMongoServer({
      dataDir: runDir,
      log,
      skipMemoryServer: process.env.UPLET_SKIP_MEMORY_SERVER === '1',
    });
    (globalThis as { __upletTestServer?: LocalMongoServer }).__upletTestServer = server;
    mongoUrlTemplate = server.urlFor('{db}');
    why = server.reasons.length ? server.reasons.join('; ') : 'first choice';
  }

  const probe = await connectMongo(mongoUrlTemplate.replace('{db}', 'uplet_probe'), { maxPoolSize: 1 });
  const serverDescription = await describeServer(probe.db);
  await probe.close();
  log(`database server: ${serverDescription} via ${server?.kind ?? 'MONGO_URL'} (${why})`);
  log(`message broker: ${redactUrl(amqpUrl)}`);

  writeState({
    mongoUrlTemplate,
    serverDescription,
    amqpUrl,
    ...(server?.ferret ? { ferret: server.ferret } : {}),
  });
}
