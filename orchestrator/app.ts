import express, { type Express } from 'express';
import type { ApiKeyRegistry } from '../shared/auth/api-keys';
import { authenticate } from '../shared/http/authenticate';
import { requestContext } from '../shared/http/request-context';
import { errorHandler, notFoundHandler, refuseEncodedBodies } from '../shared/http/express-errors';
import type { Logger } from '../shared/logging/logger';
import type { Collections } from './persistence/collections';
import type { OrchestratorMetrics } from './metrics';
import { apiDocsRoutes } from '../shared/http/api-docs';
import { cancelRoutes } from './routes/cancel-routes';
import { dashboardRoutes } from './routes/dashboard-routes';
import { eventStreamRoutes, type EventHub } from './routes/event-stream-routes';
import { orchestratorOpenApi } from './routes/openapi';
import { computeRoutes } from './routes/compute-routes';
import { healthRoutes, type Readiness } from './routes/health-routes';
import { listingRoutes } from './routes/listing-routes';
import { registrationRoutes } from './routes/registration-routes';
import { engineRoutes } from './routes/engine-routes';
import { akkioRoutes } from './routes/akkio-routes';
import { AkkioTraining } from './training/akkio';
import { trainerRoutes } from './routes/trainer-routes';
import type { TeacherAllowlist } from './training/teacher-allowlist';
import type { TrainingEngine } from './training/training-engine';
import type { Cancellation } from './work/cancellation';
import type { EventPublisher } from './work/event-publisher';
import type { Registration } from './work/registration';
import type { TaskKindTable } from './work/task-kinds';
import type { WorkLeases } from './work/work-leases';
import type { CapabilityIssuer } from './work/task-capabilities';
import type { Sites } from './work/sites';
import { siteRoutes } from './routes/site-routes';
import { registryRoutes } from './routes/registry-routes';
import type { ModelRegistry } from './training/model-registry';

export interface OrchestratorAppParts {
  collections: Collections;
  registration: Registration;
  leases: WorkLeases;
  kinds: TaskKindTable;
  cancellation: Cancellation;
  /** Absent in harnesses that mount no engine routes. */
  engine?: TrainingEngine;
  /** The Akkio front door on the engine (built here from it when absent). */
  akkio?: AkkioTraining;
  /** TEACHER_URL_ALLOWLIST parsed (absent: no teacher URL allowed). */
  teacherAllowlist?: TeacherAllowlist;
  keys: ApiKeyRegistry;
  logger: Logger;
  metrics: OrchestratorMetrics;
  readiness: Readiness;
  bodyLimitBytes: number;
  issueCapability: CapabilityIssuer;
  /** The sites, their gateways and their agents' liveness (absent: the one site `default`). */
  sites?: Sites;
  /** Where front doors announce status changes (absent: not announced). */
  events?: EventPublisher;
  /** The status events for GET /events (absent: no stream). */
  eventHub?: EventHub;
  /** The ML-model registry (seed 003) and its ontologies (absent: not mounted). */
  registry?: ModelRegistry;
}

/** The HTTP API: thin routes that validate, call the work modules, and map errors in one place. */
export function createOrchestratorApp(parts: OrchestratorAppParts): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple'); // no nested objects from query strings: `?a[$ne]=1` stays a literal key
  app.use(requestContext(parts.logger));
  app.use((req, res, next) => {
    res.on('finish', () =>
      parts.metrics.requests.inc({ method: req.method, route: req.route?.path ? String(req.route.path) : 'unmatched', status: res.statusCode }),
    );
    next();
  });
  app.use(healthRoutes(parts.readiness, parts.metrics, parts.collections, parts.kinds));
  // The description, its docs page and the dashboard's static files need no key (they hold no data).
  app.use(apiDocsRoutes(orchestratorOpenApi()));
  app.use(dashboardRoutes());
  // The key is checked before a byte of the body is read, and bodies are never inflated:
  // a caller without a key costs no parsing, one with a key at most BODY_LIMIT_BYTES of it.
  app.use(authenticate(parts.keys));
  app.use(refuseEncodedBodies());
  app.use(express.json({ limit: parts.bodyLimitBytes, strict: true, inflate: false }));
  app.use(registrationRoutes(parts.registration));
  app.use(computeRoutes(parts.leases, parts.issueCapability, parts.sites));
  app.use(cancelRoutes(parts.cancellation));
  if (parts.engine) app.use(engineRoutes(parts.engine));
  if (parts.engine) app.use(akkioRoutes(parts.akkio ?? new AkkioTraining(parts.collections, parts.engine, parts.events)));
  if (parts.engine) app.use(trainerRoutes(parts.engine, parts.teacherAllowlist ?? {}));
  if (parts.registry) app.use(registryRoutes(parts.registry));
  if (parts.eventHub) app.use(eventStreamRoutes(parts.eventHub));
  if (parts.sites) app.use(siteRoutes(parts.sites));
  app.use(listingRoutes(parts.collections, parts.sites));
  app.use(notFoundHandler());
  app.use(errorHandler(parts.logger));
  return app;
}
