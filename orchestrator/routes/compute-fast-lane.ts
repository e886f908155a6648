import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiKeyRegistry } from '../../shared/auth/api-keys';
import { PayloadTooLargeError, ValidationError } from '../../shared/errors/uplet-error';
import { checkRole, principalFrom } from '../../shared/http/authenticate';
import { answerableError } from '../../shared/http/express-errors';
import { requestIdOf } from '../../shared/http/request-context';
import type { Logger } from '../../shared/logging/logger';
import type { OrchestratorMetrics } from '../metrics';
import { COMPUTE_ROLE, COMPUTE_ROUTES, type ComputeCall, type ComputeRoute } from './compute-routes';

export interface ComputeFastLaneParts {
  keys: ApiKeyRegistry;
  calls: Readonly<Record<ComputeRoute, ComputeCall>>;
  logger: Logger;
  metrics: OrchestratorMetrics;
  bodyLimitBytes: number;
}

/**
 * The compute protocol's usual requests served straight on node:http, before express: an agent
 * makes three or more of these calls per task, and express's request machinery and body parser
 * cost about as much CPU per call as the claim's own work (measured: claim -> heartbeat -> report
 * cycles, 8 workers, 8.4 CPU-ms of Node per cycle through express, 6.3 through node:http alone,
 * 4.1 calling the work module directly; BENCHMARKS.md). The calls are the very ones express
 * routes (compute-routes.ts), and each step keeps express's order and answers: the key (401),
 * a compressed body (415), the body's size (413) and JSON (400), the role (403), then the call;
 * errors go through the one mapping (answerableError), and only a JSON parser's complaint is worded
 * its own way. What it does not recognise exactly (another method, case or trailing slash, a
 * fragment, a content type other than JSON in UTF-8, a compressed body, a malformed
 * percent-encoding) it leaves to express, untouched. Returns whether it took the request.
 */
export function computeFastLane(parts: ComputeFastLaneParts): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (req.method !== 'POST') return false;
    const route = matchComputeRoute(req.url ?? '');
    if (!route || !isPlainJson(req.headers)) return false;
    // serve answers every failure itself; this only guards against one in the answering.
    serve(parts, route, req, res).catch(() => res.destroy());
    return true;
  };
}

interface MatchedRoute {
  name: ComputeRoute;
  params: Record<string, string>;
}

const WORKER_PATH = /^\/worker\/([^/]+)\/([^/]+)(?:\/(heartbeat|release|report))?$/;
const DONE_PATH = /^\/(learndone|preddone)\/([^/]+)$/;

/** The route and decoded parameters of a compute call's path, as express would match them; undefined when it is not one. */
function matchComputeRoute(url: string): MatchedRoute | undefined {
  // A fragment in the request line (no browser sends one): Express's to answer.
  if (url.includes('#')) return undefined;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  try {
    const worker = WORKER_PATH.exec(path);
    if (worker) {
      const name = (worker[3] as ComputeRoute | undefined) ?? 'claim';
      return { name, params: { kind: decodeURIComponent(worker[1]!), uuid: decodeURIComponent(worker[2]!) } };
    }
    const done = DONE_PATH.exec(path);
    if (done) return { name: done[1] as ComputeRoute, params: { uuid: decodeURIComponent(done[2]!) } };
  } catch {
    // A malformed percent-encoding: express answers it (400).
  }
  return undefined;
}

const JSON_UTF8 = /^application\/json\s*(;\s*charset="?utf-8"?\s*)?$/i;

/** A body express.json() would parse as UTF-8 JSON, sent uncompressed. */
function isPlainJson(headers: IncomingMessage['headers']): boolean {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return false;
  const type = headers['content-type'];
  return type !== undefined && JSON_UTF8.test(type);
}

async function serve(parts: ComputeFastLaneParts, route: MatchedRoute, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = requestIdOf(req.headers);
  res.setHeader('X-Request-Id', requestId);
  // As express labels it: the route once its handler runs, `unmatched` for what was refused before.
  let reached = false;
  res.on('finish', () => parts.metrics.requests.inc({ method: 'POST', route: reached ? COMPUTE_ROUTES[route.name] : 'unmatched', status: res.statusCode }));
  try {
    const principal = principalFrom(parts.keys, req.headers);
    const body = await readJsonBody(req, parts.bodyLimitBytes);
    checkRole(principal, [COMPUTE_ROLE]);
    reached = true;
    answer(res, 200, await parts.calls[route.name]({ params: route.params, body, headers: req.headers, principal }));
  } catch (err) {
    const mapped = answerableError(err, parts.logger.child({ request: requestId }), 'POST', (req.url ?? '').split('?')[0]!);
    if (res.headersSent) return void res.destroy();
    // A body left unread (refused before it was read whole) is not drained: close the connection after the answer.
    if (!req.complete) res.setHeader('Connection', 'close');
    answer(res, mapped.httpStatus, mapped.toJSON());
  }
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The body as express.json({ strict: true }) reads it: none (undefined) when the request frames
 * no body; at most `limit` bytes, else 413 once the rest has been read and discarded (as
 * body-parser does: the connection stays usable; REQUEST_TIMEOUT_MS bounds the wait); UTF-8
 * without its byte-order mark; `{}` when empty; an object or array at the top (400 otherwise,
 * and for malformed JSON).
 */
function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers['content-length']) > limit;
    const finish = (settle: () => void) => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('close', onClose);
      settle();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (tooLarge || size > limit) {
        // Past the limit: keep reading to the end, keeping nothing.
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () =>
      finish(() => {
        if (tooLarge) return reject(new PayloadTooLargeError('request body is too large', { details: { where: 'body' } }));
        try {
          resolve(parseStrictJson(Buffer.concat(chunks, size).toString('utf8')));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    // A connection that closes before the body is whole (the client gone, or cut by REQUEST_TIMEOUT_MS) ends the read.
    const onClose = () => {
      if (!req.complete) finish(() => reject(new ValidationError('the request body was cut off before its end', { details: { where: 'body' } })));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
    req.on('error', (err) => finish(() => reject(new ValidationError(`the request body could not be read: ${err.message}`, { details: { where: 'body' } }))));
  });
}

/** JSON with an object or array at the top, as body-parser's strict mode; its byte-order mark dropped, `{}` when empty. */
function parseStrictJson(received: string): unknown {
  const text = received.charCodeAt(0) === 0xfeff ? received.slice(1) : received;
  if (text.length === 0) return {};
  const first = /^[ \t\n\r]*(.)/s.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw notJson(`the body must start with { or [, not ${JSON.stringify(first ?? '')}`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw notJson((err as Error).message);
  }
}

function notJson(reason: string): ValidationError {
  return new ValidationError(`request body is not valid JSON: ${reason}`, { details: { where: 'body' } });
}
