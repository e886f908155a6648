/** Retries with exponential back-off and jitter, for requests that are safe to repeat. */
export interface RetryPolicy {
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, initialDelayMs: 200, maxDelayMs: 5_000 };

/** A failure worth retrying: the network, or a 5xx / 503 from the server. */
export class RetryableHttpError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'RetryableHttpError';
  }
}

export async function withRetry<T>(policy: RetryPolicy, attempt: (n: number) => Promise<T>, isRetryable: (err: unknown) => boolean = defaultRetryable): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= policy.retries || !isRetryable(err)) throw err;
      const delay = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** n) * (0.7 + Math.random() * 0.6);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function defaultRetryable(err: unknown): boolean {
  if (err instanceof RetryableHttpError) return true;
  // fetch (undici) reports refused, reset and aborted connections as TypeError('fetch failed').
  const e = err as { name?: string; message?: string; cause?: { code?: string } };
  return e?.name === 'TypeError' && /fetch failed|terminated|other side closed/i.test(e.message ?? '') ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(e?.cause?.code ?? '');
}
