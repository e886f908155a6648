import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiKeyRegistry } from '../shared/auth/api-keys';
import { connectMongo, type MongoConnection } from '../shared/db/mongo-connection';
import type { Logger } from '../shared/logging/logger';
import { AmqpBroker } from '../shared/messaging/amqp-broker';
import { workTopology } from '../shared/messaging/work-topology';
import { PeriodicTask } from '../shared/periodic-task';
import { createOrchestratorApp } from './app';
import { computeFastLane } from './routes/compute-fast-lane';
import { computeCalls } from './routes/compute-routes';
import type { OrchestratorSettings } from './config';
import { backfillExpiryMinutes, reapExpiredLeases } from './periodic/lease-reaper';
import { TodoSweeper } from './periodic/todo-sweeper';
import { AmqpEventPublisher } from './messaging/amqp-event-publisher';
import { EventHub } from './routes/event-stream-routes';
import { AmqpWorkDispatcher } from './messaging/amqp-work-dispatcher';
import { OrchestratorMetrics } from './metrics';
import { collectionsOf, ensureIndexes, type Collections } from './persistence/collections';
import { EQUALITY_FIELDS, ensureFerretGinIndexes } from './persistence/ferretdb-gin-indexes';
import { ChainKeeper } from './work/chain-keeper';
import { Cancellation } from './work/cancellation';
import { Registration } from './work/registration';
import { taskKindTable } from './work/task-kinds';
import { WorkLeases } from './work/work-leases';
import { ClaimHints } from './work/claim-hints';
import { capabilityIssuer, CodeSites } from './work/task-capabilities';
import { parseTeacherAllowlist } from './training/teacher-allowlist';
import { TrainingEngine } from './training/training-engine';
import { AkkioTraining } from './training/akkio';
import { parseSites, Sites } from './work/sites';
import { rulesOf, tasksOf } from './work/task-kinds';
import { ModelRegistry, registryCollectionsOf } from './training/model-registry';
import { attachRegistrySocket } from './routes/registry-socket';

export interface RunningOrchestrator {
  url: string;
  collections: Collections;
  leases: WorkLeases;
  sweeper: TodoSweeper;
  reaper: PeriodicTask;
  /** The training engine's internal API (datasets, jobs); the front doors call it. */
  engine: TrainingEngine;
  /** The Akkio front door (its repair runs with the engine's). */
  akkio: AkkioTraining;
  /** The ML-model registry (seed 003). */
  registry: ModelRegistry;
  close(): Promise<void>;
}

/** Wires database, broker, HTTP API, reaper and sweeper; used by main.ts, standalone mode and the tests. */
export async function startOrchestrator(settings: OrchestratorSettings, logger: Logger): Promise<RunningOrchestrator> {
  const keys = ApiKeyRegistry.fromSettings(settings);
  const teacherAllowlist = parseTeacherAllowlist(settings.TEACHER_URL_ALLOWLIST);
  const mongo: MongoConnection = await connectMongo(settings.MONGO_URL, { maxPoolSize: settings.MONGO_POOL_SIZE });
  const collections = collectionsOf(mongo.db);
  await ensureIndexes(collections);
  if (settings.FERRETDB_POSTGRES_URL) {
    // Not fatal: without them every lookup scans, slower but correct.
    // Collections no index created yet have no table: make them, so each gets its GIN indexes now.
    await Promise.all(Object.keys(EQUALITY_FIELDS).map((name) => mongo.db.createCollection(name).catch(() => undefined)));
    await ensureFerretGinIndexes(settings.FERRETDB_POSTGRES_URL, mongo.db.databaseName, logger).catch((err: Error) =>
      logger.warn('could not create FerretDB equality indexes in PostgreSQL; lookups will scan', { error: err.message }),
    );
  }
  await backfillExpiryMinutes(collections);

  const siteConfig = parseSites(settings.SITES, settings.STORAGE_URL);
  // The orchestrator declares every site's queues: work is published to the queue of the site that holds its data.
  const topology = workTopology(settings.AMQP_PREFIX, [...siteConfig.keys()]);
  const broker = new AmqpBroker({ url: settings.AMQP_URL, topology, logger, connectionName: `uplet-orchestrator@${settings.AMQP_PREFIX}` });
  await broker.start();

  const metrics = new OrchestratorMetrics();
  const amqpDispatcher = new AmqpWorkDispatcher(broker, topology, collections, logger, metrics);
  const claimHints = new ClaimHints();
  const dispatcher = claimHints.recording(amqpDispatcher);
  const events = new AmqpEventPublisher(broker, topology.eventsExchange, logger);
  const chains = new ChainKeeper(collections, dispatcher, logger, events);
  const engine = new TrainingEngine(collections, dispatcher, logger);
  const codeSites = new CodeSites(collections);
  const kinds = taskKindTable(collections, chains, engine, codeSites);
  amqpDispatcher.siteOf = async (kind, uuid) => {
    const doc = await tasksOf(kinds, collections, kind).findOne({ _id: uuid });
    return doc ? rulesOf(kinds, kind).site(doc) : 'default';
  };
  const sites = new Sites(collections, siteConfig, settings.HEARTBEAT_INTERVAL_MS, logger);
  const leases = new WorkLeases(
    collections,
    kinds,
    dispatcher,
    { leaseMs: settings.LEASE_SECONDS * 1000, maxAttempts: settings.MAX_ATTEMPTS },
    logger,
    metrics,
    events,
    claimHints,
  );
  engine.useLeases(leases);
  engine.useEvents(events);
  const registry = new ModelRegistry(registryCollectionsOf(mongo.db), collections.datasets, collections.models, collections.jobs, engine, events, logger);
  engine.onJobEnd((job) => registry.afterJob(job));
  // Synthetic training data (empty storage_ids): the synthesize row's follow-up and repair, and the start of the job once its dataset is profiled.
  engine.followSynthesis({ afterSynthesis: (task) => registry.afterSynthesis(task), repair: (olderThan, batch) => registry.repairSynthetic(olderThan, batch) });
  engine.onDatasetEnd((d) => registry.afterDataset(d));
  const akkio = new AkkioTraining(collections, engine, events);
  // An Akkio submission interrupted between its task and its jobs is finished by the sweeper's repair.
  engine.onRepair((olderThan, batch) => akkio.repair(olderThan, batch));
  const registration = new Registration(collections, chains, dispatcher, sites, codeSites);
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
  // One subscription to the events exchange per replica, fanned out to GET /events streams.
  const eventHub = new EventHub();
  await broker.subscribe(topology.eventsExchange, '#', (content) => eventHub.receive(content));
  const issueCapability = capabilityIssuer(settings.UPLET_CAPABILITY_SECRET, settings.CAPABILITY_SECONDS);
  const app = createOrchestratorApp({
    collections,
    registration,
    leases,
    kinds,
    cancellation,
    engine,
    teacherAllowlist,
    keys,
    logger,
    metrics,
    readiness,
    bodyLimitBytes: settings.BODY_LIMIT_BYTES,
    issueCapability,
    sites,
    eventHub,
    registry,
    events,
    akkio,
  });
  // The compute calls' usual requests take the fast lane; everything else, and anything unusual, goes to express.
  const fastLane = computeFastLane({
    keys,
    calls: computeCalls(leases, issueCapability, sites),
    logger,
    metrics,
    bodyLimitBytes: settings.BODY_LIMIT_BYTES,
  });
  const server = http.createServer({ connectionsCheckingInterval: checkingInterval(settings.REQUEST_TIMEOUT_MS) }, (req, res) => {
    if (!fastLane(req, res)) app(req, res);
  });
  // A stalled request holds a socket and a parser: cut it (408) when headers and body are
  // not all in after REQUEST_TIMEOUT_MS (Node's defaults held one for 300 s and more).
  server.requestTimeout = settings.REQUEST_TIMEOUT_MS;
  server.headersTimeout = Math.min(settings.REQUEST_TIMEOUT_MS, 60_000);
  const registrySocket = attachRegistrySocket(server, { keys, registry, hub: eventHub, logger });
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
  const close = () =>
    (closing ??= (async () => {
      // Stop intake first, then let in-flight requests finish (bounded), then timers, broker, database.
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      registrySocket.close();
      eventHub.close(); // open event streams would otherwise hold the server until the grace period
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), settings.SHUTDOWN_GRACE_MS);
      await drained.catch(() => undefined);
      clearTimeout(timer);
      await reaper.stop().catch((e: Error) => logger.warn('reaper stop failed', { error: e.message }));
      await sweep.stop().catch((e: Error) => logger.warn('sweeper stop failed', { error: e.message }));
      await broker.close().catch((e: Error) => logger.warn('broker close failed', { error: e.message }));
      // Bounded: a database that is gone leaves the rest to the reaper of the next start.
      await Promise.race([leases.flushSettledLeases(), new Promise((r) => setTimeout(r, 2_000).unref())]);
      await mongo.close().catch((e: Error) => logger.warn('database close failed', { error: e.message }));
      logger.info('orchestrator stopped');
    })());

  return { url, collections, leases, sweeper, reaper, engine, registry, akkio, close };
}

/** Node checks request timeouts only this often (30 s by default): often enough for the timeout to mean what it says. */
export function checkingInterval(timeoutMs: number): number {
  return Math.max(50, Math.min(30_000, Math.floor(timeoutMs / 4)));
}
