import { parseJsonText, RetryableHttpError, withRetry, type RetryPolicy } from '../../shared/http/http-retry';

/**
 * withRetry sleeps with setTimeout: fake timers make the test independent of the clock, and the
 * delays it schedules are read from the timer calls. Math.random is pinned to the jitter's ends.
 */
describe('withRetry', () => {
  const policy: RetryPolicy = { retries: 4, initialDelayMs: 100, maxDelayMs: 500 };
  let delays: number[];

  beforeEach(() => {
    jest.useFakeTimers();
    delays = [];
    const realSetTimeout = setTimeout;
    jest.spyOn(global, 'setTimeout').mockImplementation((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      return realSetTimeout(fn, ms);
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    jest.useRealTimers();
  });

  /** Runs withRetry to its end, advancing the fake clock through every back-off. */
  async function settle<T>(run: Promise<T>): Promise<{ value?: T; error?: unknown }> {
    const outcome = run.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    await jest.runAllTimersAsync();
    return outcome;
  }
  const failingTimes = (failures: number, error: () => unknown) => {
    const attempts: number[] = [];
    const attempt = async (n: number) => {
      attempts.push(n);
      if (n < failures) throw error();
      return `ok after ${n}`;
    };
    return { attempts, attempt };
  };

  test('a retryable failure is retried until the attempt succeeds', async () => {
    const { attempts, attempt } = failingTimes(2, () => new RetryableHttpError('503', 503));
    expect(await settle(withRetry(policy, attempt))).toEqual({ value: 'ok after 2' });
    expect(attempts).toEqual([0, 1, 2]);
  });

  test('after `retries` retries the last error is thrown', async () => {
    const { attempts, attempt } = failingTimes(99, () => new RetryableHttpError('503', 503));
    const { error } = await settle(withRetry(policy, attempt));
    expect(error).toBeInstanceOf(RetryableHttpError);
    expect(attempts).toEqual([0, 1, 2, 3, 4]);
  });

  test('a refusal (not retryable) is thrown at once, without sleeping', async () => {
    const refusal = Object.assign(new Error('409 lease lost'), { status: 409 });
    const { attempts, attempt } = failingTimes(99, () => refusal);
    expect(await settle(withRetry(policy, attempt))).toEqual({ error: refusal });
    expect(attempts).toEqual([0]);
    expect(delays).toEqual([]);
  });

  test.each([
    ['fetch failed (refused, reset)', () => new TypeError('fetch failed')],
    ['a connection the server closed', () => new TypeError('other side closed')],
    ['ECONNREFUSED as the cause', () => Object.assign(new Error('x'), { cause: { code: 'ECONNREFUSED' } })],
    ['ECONNRESET as the cause', () => Object.assign(new Error('x'), { cause: { code: 'ECONNRESET' } })],
    ['UND_ERR_SOCKET as the cause', () => Object.assign(new Error('x'), { cause: { code: 'UND_ERR_SOCKET' } })],
  ])('network failures are retried: %s', async (_what, error) => {
    const { attempts, attempt } = failingTimes(1, error);
    expect(await settle(withRetry(policy, attempt))).toEqual({ value: 'ok after 1' });
    expect(attempts).toEqual([0, 1]);
  });

  test.each([
    ['a TypeError of a programming mistake', () => new TypeError('x is not a function')],
    ['an unrelated cause code', () => Object.assign(new Error('x'), { cause: { code: 'ENOENT' } })],
    ['a thrown string', () => 'boom'],
  ])('other failures are not retried: %s', async (_what, error) => {
    const { attempts, attempt } = failingTimes(1, error);
    await settle(withRetry(policy, attempt));
    expect(attempts).toEqual([0]);
  });

  test('a caller-supplied predicate decides instead of the default', async () => {
    const { attempts, attempt } = failingTimes(1, () => new RetryableHttpError('503', 503));
    await settle(withRetry(policy, attempt, () => false));
    expect(attempts).toEqual([0]);
  });

  test.each([
    ['least', 0, 0.7],
    ['most', 0.999999, 1.3],
  ])('back-off doubles from the initial delay up to the maximum, with at %s jitter', async (_end, random, factor) => {
    jest.spyOn(Math, 'random').mockReturnValue(random);
    const { attempt } = failingTimes(99, () => new RetryableHttpError('503', 503));
    await settle(withRetry(policy, attempt));
    const base = [100, 200, 400, 500];
    expect(delays).toHaveLength(base.length);
    delays.forEach((d, i) => expect(d).toBeCloseTo(base[i]! * factor, 3));
  });

  test('every delay stays within 70% to 130% of the capped exponential', async () => {
    const { attempt } = failingTimes(99, () => new RetryableHttpError('503', 503));
    await settle(withRetry({ retries: 8, initialDelayMs: 50, maxDelayMs: 1_000 }, attempt));
    expect(delays).toHaveLength(8);
    delays.forEach((d, n) => {
      const capped = Math.min(1_000, 50 * 2 ** n);
      expect(d).toBeGreaterThanOrEqual(0.7 * capped);
      expect(d).toBeLessThanOrEqual(1.3 * capped);
    });
  });
});

describe('parseJsonText', () => {
  const refusal = (message: string, status: number, code: string) => Object.assign(new Error(message), { status, code });
  const thrown = (read: () => unknown): unknown => {
    try {
      read();
    } catch (err) {
      return err;
    }
    throw new Error('nothing was thrown');
  };

  test('a 5xx is retryable, whatever its body', () => {
    expect(thrown(() => parseJsonText(503, '{"error":{"code":"X"}}', 'claim', refusal))).toBeInstanceOf(RetryableHttpError);
  });

  test("a 4xx is the caller's refusal with the server's stable code", () => {
    expect(thrown(() => parseJsonText(409, '{"error":{"code":"LEASE_LOST","message":"gone"}}', 'heartbeat', refusal))).toMatchObject({
      status: 409,
      code: 'LEASE_LOST',
      message: 'heartbeat: 409 gone',
    });
  });

  test('a 4xx without a JSON body is refused with HTTP_ERROR and the start of its text', () => {
    expect(thrown(() => parseJsonText(400, 'bad', 'report', refusal))).toMatchObject({
      status: 400,
      code: 'HTTP_ERROR',
      message: 'report: 400 bad',
    });
  });

  test('a 2xx is its JSON', () => {
    expect(parseJsonText(200, '{"a":1}', 'claim', refusal)).toEqual({ a: 1 });
  });
});
