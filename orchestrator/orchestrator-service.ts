import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiKeyRegistry } from '../shared/auth/api-keys';
import { connectMongo, type MongoConnection } from '../shared/db/mongo-connection';
import type { Logger } from '../shared/logging/logger';
import { AmqpBroker } from '../shared/messaging/amqp-broker';
import { workTopology } from '../shared/messaging/work-topology';
import { PeriodicTask } from '../shared/periodic-task';
import { createOrchestratorApp } from './app';
import type { OrchestratorSettings } from './config';
import { backfillExpiryMinutes, reapExpiredLeases } from './periodic/lease-reaper';
import { TodoSweeper } from './periodic/todo-sweeper';
import { AmqpWorkDispatcher } from './messaging/amqp-work-dispatcher';
import { OrchestratorMetrics } from './metrics';
import { collectionsOf, ensureIndexes, type Collections } from './persistence/collections';
import { ChainKeeper } from './work/chain-keeper';
import { Cancellation } from './work/cancellation';
import { Registration } from './work/registration';
import { taskKindTable } from './work/task-kinds';
import { WorkLeases } from './work/work-leases';
import { capabilityIssuer } from './work/task-capabilities';
import { TrainingEngine } from './training/training-engine';

export interface RunningOrchestrator {
  url: string;
  collections: Collections;
  leases: WorkLeases;
  sweeper: TodoSweeper;
  reaper: PeriodicTask;
  /** The training engine's internal API (datasets, jobs); the front doors call it. */
  engine: TrainingEngine;
  close(): Promise<void>;
}

/** Wires database, broker, HTTP API, reaper and sweeper; used by main.ts, standalone mode and the tests. */
export async function startOrchestrator(settings: OrchestratorSettings, logger: Logger): Promise<RunningOrchestrator> {
  const keys = ApiKeyRegistry.fromSettings(settings);
  const mongo: MongoConnection = await connectMongo(settings.MONGO_URL, { maxPoolSize: settings.MONGO_POOL_SIZE });
  const collections = collectionsOf(mongo.db);
  await ensureIndexes(collections);
  await backfillExpiryMinutes(collections);

  const topology = workTopology(settings.AMQP_PREFIX);
  const broker = new AmqpBroker({ url: settings.AMQP_URL, topology, logger, connectionName: `uplet-orchestrator@${settings.AMQP_PREFIX}` });
  await broker.start();

  const metrics = new OrchestratorMetrics();
  const dispatcher = new AmqpWorkDispatcher(broker, topology, collections, logger, metrics);
  const chains = new ChainKeeper(collections, dispatcher, logger);
  const engine = new TrainingEngine(collections, dispatcher, logger);
  const kinds = taskKindTable(collections, chains, engine);
  const leases = new WorkLeases(collections, kinds, dispatcher, { leaseMs: settings.LEASE_SECONDS * 1000, maxAttempts: settings.MAX_ATTEMPTS }, logger, metrics);
  engine.useLeases(leases);
  const registration = new Registration(collections, chains, dispatcher);
  const sweeper = new TodoSweeper(collections, dispatcher, kinds, leases, { republishAfterMs: settings.REPUBLISH_AFTER_MS, batch: 1000 }, logger, metrics);

  const readiness = {
    async check(): Promise<string | null> {
      if (!broker.isConnected) return 'message broker disconnected';
      try {
        await mongo.db.command({ ping: 1 }, { timeoutMS: 2_000 });
        return null;
      } catch {
        return 'database unreachable';
      }
    },
  };
  const cancellation = new Cancellation(collections, leases);
  const app = createOrchestratorApp({ collections, registration, leases, kinds, cancellation, engine, keys, logger, metrics, readiness, bodyLimitBytes: settings.BODY_LIMIT_BYTES,
    issueCapability: capabilityIssuer(settings.UPLET_CAPABILITY_SECRET, settings.CAPABILITY_SECONDS),
  });
  const server = http.createServer({ connectionsCheckingInterval: checkingInterval(settings.REQUEST_TIMEOUT_MS) }, app);
  // A stalled request holds a socket and a parser: cut it (408) when headers and body are
  // not all in after REQUEST_TIMEOUT_MS (Node's defaults held one for 300 s and more).
  server.requestTimeout = settings.REQUEST_TIMEOUT_MS;
  server.headersTimeout = Math.min(settings.REQUEST_TIMEOUT_MS, 60_000);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.ORCHESTRATOR_PORT, settings.ORCHESTRATOR_HOST, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${settings.ORCHESTRATOR_HOST}:${port}`;

  const reaper = new PeriodicTask('lease reaper', settings.REAPER_INTERVAL_MS, async () => void (await reapExpiredLeases(collections, leases)), logger);
  const sweep = new PeriodicTask('todo sweeper', settings.SWEEP_INTERVAL_MS, async () => void (await sweeper.sweep()), logger);
  reaper.start();
  sweep.start();
  logger.info('orchestrator listening', { url });

  let closing: Promise<void> | undefined;
  const close = () => (closing ??= (async () => {
    // Stop intake first, then let in-flight requests finish (bounded), then timers, broker, database.
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const timer = setTimeout(() => server.closeAllConnections(), settings.SHUTDOWN_GRACE_MS);
    await drained.catch(() => undefined);
    clearTimeout(timer);
    await reaper.stop().catch((e: Error) => logger.warn('reaper stop failed', { error: e.message }));
    await sweep.stop().catch((e: Error) => logger.warn('sweeper stop failed', { error: e.message }));
    await broker.close().catch((e: Error) => logger.warn('broker close failed', { error: e.message }));
    await mongo.close().catch((e: Error) => logger.warn('database close failed', { error: e.message }));
    logger.info('orchestrator stopped');
  })());

  return { url, collections, leases, sweeper, reaper, engine, close };
}

/** Node checks request timeouts only this often (30 s by default): often enough for the timeout to mean what it says. */
export function checkingInterval(timeoutMs: number): number {
  return Math.max(50, Math.min(30_000, Math.floor(timeoutMs / 4)));
}
