import express, { type Express } from 'express';
import type { ApiKeyRegistry } from '../shared/auth/api-keys';
import { authenticate } from '../shared/http/authenticate';
import { requestContext } from '../shared/http/request-context';
import { errorHandler, notFoundHandler } from '../shared/http/express-errors';
import type { Logger } from '../shared/logging/logger';
import type { BlobStore } from './blob-store/blob-store';
import { blobRoutes } from './routes/blob-routes';
import { apiDocsRoutes } from '../shared/http/api-docs';
import { storageOpenApi } from './routes/openapi';
import type { AccessLog } from './access/access-log';

export interface StorageAppParts {
  store: BlobStore;
  keys: ApiKeyRegistry;
  logger: Logger;
  maxBlobBytes: number;
  capabilitySecret: string;
  /** This gateway's site (default `default`). */
  site?: string;
  accessLog?: AccessLog;
}

/** The storage gateway's HTTP API; bodies are streamed to the store, never parsed or buffered. */
export function createStorageApp(parts: StorageAppParts): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // ETags are the blobs' sha256, set by the routes
  app.use(requestContext(parts.logger));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok', site: parts.site ?? 'default' }));
  app.use(apiDocsRoutes(storageOpenApi()));
  app.use(authenticate(parts.keys));
  app.use(
    blobRoutes(parts.store, parts.maxBlobBytes, parts.capabilitySecret, {
      site: parts.site ?? 'default',
      ...(parts.accessLog ? { accessLog: parts.accessLog } : {}),
    }),
  );
  app.use(notFoundHandler());
  app.use(errorHandler(parts.logger));
  return app;
}
