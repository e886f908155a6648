import { UpletApiError } from '../http/api-error';

export { UpletApiError } from '../http/api-error';
export { OrchestratorRequestError } from '../http/orchestrator-client';
export { StorageRequestError, DigestMismatchError } from '../http/storage-client';

/** The API's stable error codes (shared/errors, shared/contracts/work-contract.ts); a server may add others. */
export type ApiErrorCode =
  | 'VALIDATION_FAILED'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RANGE_NOT_SATISFIABLE'
  | 'UNPROCESSABLE'
  | 'DEPENDENCY_UNAVAILABLE'
  | 'INTERNAL'
  | 'DIGEST_MISMATCH'
  | 'NOT_CLAIMABLE'
  | 'ALREADY_CLAIMED'
  | 'LEASE_LOST'
  | 'LEASE_SETTLED'
  | 'NOT_LEASE_HOLDER'
  | 'NOT_TASK_OUTPUT'
  | 'UNKNOWN_PERF_ITEM'
  | 'CANCEL_CONTENDED'
  | (string & {});

/** The service did not answer (refused, reset, timed out, or 5xx after the retries). */
export class UnreachableError extends Error {
  readonly code = 'UNREACHABLE';
  constructor(
    message: string,
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UnreachableError';
  }
}

/** A wait that ended without success: a chain or prediction that failed, or a timeout. */
export class WaitError extends Error {
  constructor(
    message: string,
    readonly code: 'TIMEOUT' | 'FAILED',
  ) {
    super(message);
    this.name = 'WaitError';
  }
}

export function isApiError(err: unknown, code?: ApiErrorCode): err is UpletApiError {
  return err instanceof UpletApiError && (code === undefined || err.code === code);
}
