/** What `uplet`'s exit status means (documented in the README and in `uplet --help`). */
export const EXIT = {
  OK: 0,
  /** The API refused the request (4xx): the message says which code and what to do. */
  REFUSED: 1,
  /** Bad command line or missing configuration (no key, no URL, a folder without what it needs). */
  USAGE: 2,
  /** A service did not answer (refused, reset, timed out, 5xx after retries). */
  UNREACHABLE: 3,
  /** A transfer did not match its sha256. */
  INTEGRITY: 4,
  /** What was waited for ended badly: a prediction failed, or the wait timed out. */
  WORK_FAILED: 5,
  INTERRUPTED: 130,
} as const;

export const EXIT_HELP = `Exit codes: 0 ok · 1 the API refused (its code is printed) · 2 usage or configuration · 3 a service is unreachable · 4 integrity (sha256 mismatch) · 5 the work waited for failed or timed out · 130 interrupted`;

/** A mistake on the command line or in the configuration: exit 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}
