import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { ApiKeyRegistry } from '../shared/auth/api-keys';
import type { Logger } from '../shared/logging/logger';
import { createStorageApp } from './app';
import { FilesystemBlobStore } from './blob-store/filesystem-blob-store';
import type { StorageSettings } from './config';
import { AccessLog } from './access/access-log';

export interface RunningStorageGateway {
  url: string;
  site: string;
  /** The access log's file (undefined when off). */
  accessLogFile?: string;
  /** The start-up sweep of orphaned content, running beside the first requests. */
  orphanSweep: Promise<{ removed: number; bytes: number } | undefined>;
  close(): Promise<void>;
}

/** Starts the gateway on its configured port; used by main.ts, standalone mode and the tests. */
export async function startStorageGateway(settings: StorageSettings, logger: Logger): Promise<RunningStorageGateway> {
  const keys = ApiKeyRegistry.fromSettings(settings);
  const store = new FilesystemBlobStore(path.resolve(settings.STORAGE_DIR));
  const site = settings.SITE ?? 'default';
  const accessLogFile =
    settings.STORAGE_ACCESS_LOG === 'off' ? undefined : path.resolve(settings.STORAGE_ACCESS_LOG ?? path.join(settings.STORAGE_DIR, 'access.log'));
  const accessLog = new AccessLog(accessLogFile);
  const app = createStorageApp({
    store,
    keys,
    logger,
    maxBlobBytes: settings.STORAGE_MAX_BLOB_BYTES,
    capabilitySecret: settings.UPLET_CAPABILITY_SECRET,
    site,
    accessLog,
  });
  // Capabilities name every data blob of a task: allow large headers.
  const idle = settings.STORAGE_IDLE_TIMEOUT_MS;
  const server = http.createServer({ maxHeaderSize: 256 * 1024, connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(idle / 4))) }, app);
  // Large blobs on slow links: no whole-request timeout, but a socket on which no byte
  // moves for STORAGE_IDLE_TIMEOUT_MS is destroyed (Node's default is never), which
  // fails the upload's pipeline and removes its temporary file.
  server.requestTimeout = 0;
  server.timeout = idle;
  server.headersTimeout = Math.min(idle, 60_000);
  // Idle means the client stopped: mid-upload, or not reading a download. Once a request's body
  // has arrived, the time until its answer is the server's own (a commit waiting its turn behind
  // a concurrent upload of the same uuid), and the connection is kept.
  const serverTurn = new WeakSet<Socket>();
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.once('end', () => serverTurn.add(req.socket));
    res.once('close', () => serverTurn.delete(req.socket));
  });
  server.on('timeout', (socket: Socket) => {
    if (serverTurn.has(socket) && !socket.writableNeedDrain) return void socket.setTimeout(idle);
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.STORAGE_PORT, settings.STORAGE_HOST, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${settings.STORAGE_HOST}:${port}`;
  logger.info('storage gateway listening', { url, site, dir: path.resolve(settings.STORAGE_DIR), accessLog: accessLogFile ?? 'off' });
  const orphanSweep = store.sweepOrphans(settings.STORAGE_ORPHAN_GRACE_MS).then(
    (swept) => {
      if (swept.removed > 0) logger.info('orphaned content removed', swept);
      return swept;
    },
    (err: Error) => void logger.warn('orphan sweep failed; it runs again at the next start', { error: err.message }),
  );
  let closing: Promise<void> | undefined;
  return {
    url,
    site,
    ...(accessLogFile ? { accessLogFile } : {}),
    orphanSweep,
    close: () =>
      (closing ??= (async () => {
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), settings.SHUTDOWN_GRACE_MS);
        await drained;
        clearTimeout(timer);
        await orphanSweep;
        await accessLog.close();
        logger.info('storage gateway stopped');
      })()),
  };
}
