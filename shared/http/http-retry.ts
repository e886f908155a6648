import type { IncomingMessage } from 'node:http';

/** Retries with exponential back-off and jitter, for requests that are safe to repeat. */
export interface RetryPolicy {
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, initialDelayMs: 200, maxDelayMs: 5_000 };

/** A failure worth retrying: the network, or a 5xx / 503 from the server. */
export class RetryableHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RetryableHttpError';
  }
}

export async function withRetry<T>(
  policy: RetryPolicy,
  attempt: (n: number) => Promise<T>,
  isRetryable: (err: unknown) => boolean = defaultRetryable,
): Promise<T> {
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
  return (
    (e?.name === 'TypeError' && /fetch failed|terminated|other side closed/i.test(e.message ?? '')) ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'].includes(e?.cause?.code ?? '')
  );
}

/**
 * The whole body of an answer as text. A connection lost while it arrives (the server's process
 * died, a proxy cut it) is retryable like a connection lost before it: every request these
 * clients retry is safe to repeat.
 */
export function readAnswerText(res: IncomingMessage, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', (err) => reject(new RetryableHttpError(`${what}: the answer broke off: ${err.message}`)));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/**
 * Reads a JSON answer of an uplet service, from its status and body text: a 5xx is retryable,
 * a 4xx becomes the caller's typed refusal carrying the server's stable error code.
 */
export function parseJsonText(
  status: number,
  text: string,
  what: string,
  refusal: (message: string, status: number, code: string, details?: unknown) => Error,
): unknown {
  if (status >= 500) throw new RetryableHttpError(`${what}: answered ${status}`, status);
  let json: { error?: { code?: string; message?: string; details?: unknown } } | undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (status < 200 || status >= 300)
    throw refusal(`${what}: ${status} ${json?.error?.message ?? text.slice(0, 200)}`, status, json?.error?.code ?? 'HTTP_ERROR', json?.error?.details);
  return json;
}
