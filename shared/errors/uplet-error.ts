/**
 * Every failure the services report is an UpletError with a stable `code` that
 * clients and tests match on; HTTP handlers map it to a status in one place.
 */
export interface UpletErrorOptions {
  /** Where the problem is (a field path, a header, a path parameter). */
  details?: unknown;
  cause?: unknown;
}

export abstract class UpletError extends Error {
  abstract readonly code: string;
  abstract readonly httpStatus: number;
  /** True when the same request may succeed later (a dependency was down). */
  readonly retryable: boolean = false;
  readonly details?: unknown;

  constructor(message: string, options: UpletErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
  }

  toJSON(): { error: { code: string; message: string; details?: unknown } } {
    return { error: { code: this.code, message: this.message, ...(this.details === undefined ? {} : { details: this.details }) } };
  }
}

export class ValidationError extends UpletError {
  readonly code = 'VALIDATION_FAILED';
  readonly httpStatus = 400;
}

export class UnauthenticatedError extends UpletError {
  readonly code = 'UNAUTHENTICATED';
  readonly httpStatus = 401;
}

export class ForbiddenError extends UpletError {
  readonly code = 'FORBIDDEN';
  readonly httpStatus = 403;
}

/** A refusal because of where the caller is: another site's data or work (code WRONG_SITE unless given). */
export class SiteForbiddenError extends UpletError {
  readonly code: string;
  readonly httpStatus = 403;
  constructor(message: string, options: UpletErrorOptions & { code?: string } = {}) {
    super(message, options);
    this.code = options.code ?? 'WRONG_SITE';
  }
}

export class NotFoundError extends UpletError {
  readonly code = 'NOT_FOUND';
  readonly httpStatus = 404;
}

export class ConflictError extends UpletError {
  readonly code: string;
  readonly httpStatus = 409;
  constructor(message: string, options: UpletErrorOptions & { code?: string } = {}) {
    super(message, options);
    this.code = options.code ?? 'CONFLICT';
  }
}

export class PayloadTooLargeError extends UpletError {
  readonly code = 'PAYLOAD_TOO_LARGE';
  readonly httpStatus = 413;
}

export class UnsupportedMediaTypeError extends UpletError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  readonly httpStatus = 415;
}

export class RangeNotSatisfiableError extends UpletError {
  readonly code = 'RANGE_NOT_SATISFIABLE';
  readonly httpStatus = 416;
}

export class UnprocessableError extends UpletError {
  readonly code: string;
  readonly httpStatus = 422;
  constructor(message: string, options: UpletErrorOptions & { code?: string } = {}) {
    super(message, options);
    this.code = options.code ?? 'UNPROCESSABLE';
  }
}

export class DependencyUnavailableError extends UpletError {
  readonly code = 'DEPENDENCY_UNAVAILABLE';
  readonly httpStatus = 503;
  override readonly retryable = true;
}

export class ConfigError extends UpletError {
  readonly code = 'CONFIG_INVALID';
  readonly httpStatus = 500;
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}
