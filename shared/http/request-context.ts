import crypto from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from '../logging/logger';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

/** A request's correlation id: the caller's `X-Request-Id` when it is sane, else a new one. */
export function requestIdOf(headers: Record<string, string | string[] | undefined>): string {
  const given = headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/**
 * Gives every request a correlation id (the caller's `X-Request-Id` when it is
 * sane, else a new one), echoes it, and a logger that carries it.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const id = requestIdOf(req.headers);
    res.set('X-Request-Id', id);
    res.locals.logger = logger.child({ request: id });
    next();
  };
}

export function requestLogger(res: Response, fallback: Logger): Logger {
  return (res.locals.logger as Logger | undefined) ?? fallback;
}
