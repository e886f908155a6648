import type { Request, RequestHandler, Response } from 'express';
import { apiKeyFromHeaders, hasAnyRole, type ApiKeyRegistry, type Principal, type Role } from '../auth/api-keys';
import { ForbiddenError, UnauthenticatedError } from '../errors/uplet-error';

/** Resolves the API key of every request into `res.locals.principal`, or answers 401. */
export function authenticate(keys: ApiKeyRegistry): RequestHandler {
  return (req, res, next) => {
    const principal = keys.authenticate(apiKeyFromHeaders(req.headers));
    if (!principal) throw new UnauthenticatedError('a valid API key is required (X-API-Key header or Authorization: Bearer)');
    res.locals.principal = principal;
    next();
  };
}

export function principalOf(res: Response): Principal {
  return res.locals.principal as Principal;
}

/** 403 unless the caller holds one of the roles (admin holds them all). */
export function requireRole(...roles: Role[]): RequestHandler {
  return (_req: Request, res, next) => {
    if (!hasAnyRole(principalOf(res), roles)) {
      throw new ForbiddenError(`this call needs the role ${roles.join(' or ')}`, { details: { roles } });
    }
    next();
  };
}
