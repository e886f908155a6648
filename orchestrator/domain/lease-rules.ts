/** What happens to an attempt that ended without a `done` result. */
export type RetryDecision = { next: 'todo' } | { next: 'failed'; reason: string };

/**
 * After an attempt fails (reported failure, or its lease expired), the uplet is
 * retried until it has used `maxAttempts` claims; then it fails for good. Claims
 * given back unrun (`released`: an agent stopping, or no slot free in time) use up none.
 */
export function afterUnsuccessfulAttempt(
  attempt: number,
  maxAttempts: number,
  cause: 'expired' | 'failed',
  lastReason: string | null,
  released = 0,
): RetryDecision {
  const used = attempt - released;
  if (used < maxAttempts) return { next: 'todo' };
  const reason = cause === 'expired' ? `lease expired ${used} times` : `failed ${used} times; last failure: ${lastReason ?? 'no reason given'}`;
  return { next: 'failed', reason };
}

export function leaseId(upletUuid: string, attempt: number): string {
  return `${upletUuid}/${attempt}`;
}

/** Lease tokens name their attempt so a report finds its lease without a search: `<attempt>.<random>`. */
export function attemptOfToken(token: string): number | undefined {
  const m = /^(\d{1,6})\.[A-Za-z0-9_-]{16,64}$/.exec(token);
  return m ? Number(m[1]) : undefined;
}

/** The minute a lease expires in: the reaper reads due minutes by equality (FerretDB scans a range). */
export function minuteOf(at: Date): number {
  return Math.floor(at.getTime() / 60_000);
}
