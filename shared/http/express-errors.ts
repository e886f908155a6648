import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { DependencyUnavailableError, NotFoundError, PayloadTooLargeError, UnsupportedMediaTypeError, UpletError, ValidationError } from '../errors/uplet-error';
import type { Logger } from '../logging/logger';
import { requestLogger } from './request-context';

/** The one place that maps errors to HTTP answers, for every service. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const mapped = answerableError(err, requestLogger(res, logger), req.method, req.path);
    // A body left unread (refused before it was parsed) is not drained: close the connection after the answer.
    if (!req.complete) res.set('Connection', 'close');
    // A route may have set a blob's Content-Type before failing (a 416 after the headers): a refusal is always JSON.
    res.type('application/json').status(mapped.httpStatus).json(mapped.toJSON());
  };
}

class InternalError extends UpletError {
  readonly code = 'INTERNAL';
  readonly httpStatus = 500;
}

/**
 * The UpletError a request's failure is answered as; a 5xx is logged with what failed (the
 * error handler's, and the compute calls' fast lane's).
 */
export function answerableError(err: unknown, logger: Logger, method: string, path: string): UpletError {
  const mapped = toUpletError(err);
  if (mapped.httpStatus >= 500) {
    logger.error('request failed', { method, path, code: mapped.code, error: (err as Error)?.message, stack: (err as Error)?.stack });
  }
  return mapped;
}

function toUpletError(err: unknown): UpletError {
  if (err instanceof UpletError) return err;
  const e = err as { type?: string; status?: number; message?: string; expose?: boolean };
  // body-parser errors: malformed JSON, too large, wrong charset.
  if (e?.type === 'entity.too.large') return new PayloadTooLargeError('request body is too large', { details: { where: 'body' } });
  if (e?.type === 'encoding.unsupported')
    return new UnsupportedMediaTypeError('request bodies are not accepted compressed; send Content-Encoding: identity', {
      details: { where: 'header', field: 'content-encoding' },
    });
  if (e?.type === 'entity.parse.failed')
    return new ValidationError(`request body is not valid JSON: ${e.message ?? ''}`.trim(), { details: { where: 'body' } });
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
    return new ValidationError(e.message ?? 'bad request', { details: { where: 'request' } });
  }
  // The database is down or unreachable: tell clients to come back, not that they were wrong.
  if (/^Mongo(Network|ServerSelection|NotConnected|PoolCleared|Topology)/.test((err as Error)?.name ?? '')) {
    return new DependencyUnavailableError('the database is unavailable; retry later');
  }
  if (err instanceof URIError) return new ValidationError('malformed URL encoding', { details: { where: 'path' } });
  return new InternalError('internal error');
}

/**
 * 415 for a body sent with a Content-Encoding other than identity, before any of it is
 * read: inflating lets a 16 KB body become 16 MB of parsing.
 */
export function refuseEncodedBodies(): RequestHandler {
  return (req, _res, next) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity' && encoding !== '') {
      throw new UnsupportedMediaTypeError(`Content-Encoding ${encoding.slice(0, 40)} is not accepted; send the body uncompressed`, {
        details: { where: 'header', field: 'content-encoding' },
      });
    }
    next();
  };
}

export function notFoundHandler(): RequestHandler {
  return (req: Request) => {
    throw new NotFoundError(`no route ${req.method} ${req.path}`);
  };
}
