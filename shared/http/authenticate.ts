import type { Request, RequestHandler, Response } from 'express';
import { apiKeyFromHeaders, hasAnyRole, type ApiKeyRegistry, type Principal, type Role } from '../auth/api-keys';
import { ForbiddenError, UnauthenticatedError } from '../errors/uplet-error';

/** The caller a request's API key names; 401 without a valid one. */
export function principalFrom(keys: ApiKeyRegistry, headers: Record<string, string | string[] | undefined>): Principal {
  const principal = keys.authenticate(apiKeyFromHeaders(headers));
  if (!principal) throw new UnauthenticatedError('a valid API key is required (X-API-Key header or Authorization: Bearer)');
  return principal;
}

/** 403 unless the caller holds one of the roles (admin holds them all). */
export function checkRole(principal: Principal, roles: readonly Role[]): void {
  if (!hasAnyRole(principal, roles)) throw new ForbiddenError(`this call needs the role ${roles.join(' or ')}`, { details: { roles } });
}

/** Resolves the API key of every request into `res.locals.principal`, or answers 401. */
export function authenticate(keys: ApiKeyRegistry): RequestHandler {
  return (req, res, next) => {
    res.locals.principal = principalFrom(keys, req.headers);
    next();
  };
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

/** checkRole as a middleware. */
export function requireRole(...roles: Role[]): RequestHandler {
  return (_req: Request, res, next) => {
    checkRole(principalOf(res), roles);
    next();
  };
}
