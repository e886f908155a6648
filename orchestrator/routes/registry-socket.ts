import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Response } from 'express';
import Joi from 'joi';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { apiKeyFromHeaders, type ApiKeyRegistry, type Principal } from '../../shared/auth/api-keys';
import { identifier } from '../../shared/contracts/identifiers';
import type { Logger } from '../../shared/logging/logger';
import { publicEvent, type ModelEventDoc, type ModelRegistry } from '../training/model-registry';
import type { EventHub } from './event-stream-routes';

export const REGISTRY_SOCKET_PATH = '/api/ml-models/events';
const AUTH_TIMEOUT_MS = 5_000;

const socketQuery = Joi.object({
  project_id: identifier(),
  model_id: identifier(),
  since: Joi.number().integer().min(0).max(Number.MAX_SAFE_INTEGER),
}).or('project_id', 'model_id');

/**
 * The registry's WebSocket, `GET /api/ml-models/events?project_id=…|model_id=…[&since=<seq>]`.
 *
 * - **Authentication** as the HTTP API: `X-API-Key` or `Authorization: Bearer` on the upgrade
 *   request; a client that cannot set headers (a browser) sends `{"type":"auth","api_key":"…"}`
 *   as its first message within 5 s. No key in the URL (it would end up in logs).
 * - Messages are JSON: `{"type":"subscribed", project_id, model_id, since}`, then
 *   `{"type":"event", "event": {seq, project_id, model_id, from, status, reason, at}}` in `seq`
 *   order, each once; `{"type":"error", "error": {code, message}}` before a refusal's close
 *   (4400 bad query, 4401 no valid key, 4403 role, 4404 unknown model).
 * - `since`: the events numbered after it are replayed from the store first (a reconnecting
 *   client gives the last `seq` it saw); without it only new events come.
 * - Live events come from the events exchange (this replica's EventHub), so a change made by any
 *   orchestrator reaches every socket; whenever one arrives the store is read from the last
 *   `seq` sent, so nothing is skipped or reordered even when the broker reorders or drops one.
 */
export function attachRegistrySocket(
  server: http.Server,
  deps: { keys: ApiKeyRegistry; registry: ModelRegistry; hub: EventHub; logger: Logger },
): { close(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== REGISTRY_SOCKET_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      void serve(ws, req, url, deps).catch((err: Error) => {
        deps.logger.warn('registry socket failed', { error: err.message });
        refuse(ws, 1011, 'INTERNAL', 'internal error');
      });
    });
  });
  return {
    close: () => {
      for (const ws of wss.clients) ws.close(1001, 'server shutting down');
      wss.close();
    },
  };
}

function refuse(ws: WebSocket, code: number, errorCode: string, message: string): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'error', error: { code: errorCode, message } }));
  ws.close(code, message.slice(0, 120));
}

async function principalOf(ws: WebSocket, req: http.IncomingMessage, keys: ApiKeyRegistry): Promise<Principal | undefined> {
  const fromHeader = apiKeyFromHeaders(req.headers);
  if (fromHeader) return keys.authenticate(fromHeader);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), AUTH_TIMEOUT_MS);
    ws.once('message', (data: RawData) => {
      clearTimeout(timer);
      try {
        const m = JSON.parse((data as Buffer).toString('utf8')) as { type?: string; api_key?: string };
        resolve(m.type === 'auth' && typeof m.api_key === 'string' ? keys.authenticate(m.api_key) : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
}

async function serve(
  ws: WebSocket,
  req: http.IncomingMessage,
  url: URL,
  deps: { keys: ApiKeyRegistry; registry: ModelRegistry; hub: EventHub },
): Promise<void> {
  // Events arriving before the subscription is settled are not lost: the first read of the store covers them.
  const { error, value } = socketQuery.validate(Object.fromEntries(url.searchParams), { convert: true });
  const principal = await principalOf(ws, req, deps.keys);
  if (!principal)
    return refuse(ws, 4401, 'UNAUTHENTICATED', 'a valid API key is required (X-API-Key header, Authorization: Bearer, or a first {"type":"auth"} message)');
  if (principal.roles.includes('compute') && !principal.roles.includes('admin')) return refuse(ws, 4403, 'FORBIDDEN', 'compute keys do not read model events');
  if (error) return refuse(ws, 4400, 'VALIDATION_FAILED', error.message);
  const q = value as { project_id?: string; model_id?: string; since?: number };
  const mayRead = (owner: string) => owner === principal.name || principal.roles.includes('admin');
  let project = q.project_id;
  if (q.model_id) {
    const of = await deps.registry.projectOf(q.model_id);
    if (!of || !mayRead(of.owner) || (project && of.project_id !== project)) return refuse(ws, 4404, 'NOT_FOUND', `model ${q.model_id} does not exist`);
    project = of.project_id;
  }
  const projectId = project!;
  let last = q.since ?? 0;
  // Without `since`: only what comes after the newest stored event (read once, before any catch-up).
  let chain: Promise<void> =
    q.since !== undefined
      ? Promise.resolve()
      : deps.registry.latestEventSeq(projectId).then((seq) => {
          last = seq;
        });
  const catchUp = () => {
    chain = chain
      .then(async () => {
        if (ws.readyState !== ws.OPEN) return;
        const missed: ModelEventDoc[] = await deps.registry.eventsSince(projectId, last, q.model_id);
        for (const e of missed) {
          last = Math.max(last, e.seq);
          if (mayRead(e.owner)) ws.send(JSON.stringify({ type: 'event', event: publicEvent(e) }));
        }
      })
      .catch(() => undefined);
  };
  const stop = deps.hub.listen(
    (event) => {
      if (event.subject !== 'model' || event.scope?.project !== projectId) return;
      if (!(Number(event.detail?.seq) <= last)) catchUp();
    },
    { end: () => ws.close(1001, 'server shutting down') } as unknown as Response,
  );
  const ping = setInterval(() => ws.ping(), 30_000);
  ws.on('close', () => {
    clearInterval(ping);
    stop();
  });
  ws.send(JSON.stringify({ type: 'subscribed', project_id: projectId, model_id: q.model_id ?? null, since: q.since ?? null }));
  catchUp();
}
