/**
 * A refusal by an uplet service (4xx) with the API's stable `code` (VALIDATION_FAILED,
 * NOT_FOUND, FORBIDDEN, NOT_CLAIMABLE, LEASE_LOST, …) and its `details`: clients
 * match on the code, never on the message. The orchestrator's and the storage
 * gateway's clients throw subclasses of it.
 */
export class UpletApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'UpletApiError';
  }
}
