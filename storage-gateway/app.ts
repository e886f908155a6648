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

export interface StorageAppParts {
  store: BlobStore;
  keys: ApiKeyRegistry;
  logger: Logger;
  maxBlobBytes: number;
  capabilitySecret: string;
}

/** The storage gateway's HTTP API; bodies are streamed to the store, never parsed or buffered. */
export function createStorageApp(parts: StorageAppParts): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // ETags are the blobs' sha256, set by the routes
  app.use(requestContext(parts.logger));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.use(apiDocsRoutes(storageOpenApi()));
  app.use(authenticate(parts.keys));
  app.use(blobRoutes(parts.store, parts.maxBlobBytes, parts.capabilitySecret));
  app.use(notFoundHandler());
  app.use(errorHandler(parts.logger));
  return app;
}
