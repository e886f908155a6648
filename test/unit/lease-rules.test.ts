import crypto from 'node:crypto';
import fc from 'fast-check';
import { afterUnsuccessfulAttempt, attemptOfToken, leaseId, minuteOf } from '../../orchestrator/domain/lease-rules';

/** The token as the orchestrator mints it (orchestrator/work/work-leases.ts): `<attempt>.<18 random bytes, base64url>`. */
const mintedToken = (attempt: number, bytes: Uint8Array) => `${attempt}.${Buffer.from(bytes).toString('base64url')}`;

describe('attempts', () => {
  test('every attempt before the last goes back to todo, whatever ended it', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        fc.constantFrom('expired' as const, 'failed' as const),
        (attempt, max, cause) => {
          const decision = afterUnsuccessfulAttempt(attempt, max, cause, 'boom');
          expect(decision.next).toBe(attempt < max ? 'todo' : 'failed');
        },
      ),
    );
  });

  test('the last attempt fails for good, with a reason naming the cause and the count', () => {
    expect(afterUnsuccessfulAttempt(3, 3, 'expired', 'ignored for expiries')).toEqual({ next: 'failed', reason: 'lease expired 3 times' });
    expect(afterUnsuccessfulAttempt(2, 2, 'failed', 'exit code 1')).toEqual({ next: 'failed', reason: 'failed 2 times; last failure: exit code 1' });
    expect(afterUnsuccessfulAttempt(1, 1, 'failed', null)).toEqual({ next: 'failed', reason: 'failed 1 times; last failure: no reason given' });
  });

  test('claims given back unrun use up no retry', () => {
    expect(afterUnsuccessfulAttempt(3, 3, 'failed', 'exit code 1', 2)).toEqual({ next: 'todo' });
    expect(afterUnsuccessfulAttempt(5, 3, 'failed', 'exit code 1', 2)).toEqual({ next: 'failed', reason: 'failed 3 times; last failure: exit code 1' });
  });

  test('an attempt past the limit (a late settlement) still fails rather than retrying forever', () => {
    expect(afterUnsuccessfulAttempt(4, 3, 'expired', null).next).toBe('failed');
  });
});

describe('lease tokens', () => {
  test('every token the orchestrator mints names its attempt', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 999_999 }), fc.uint8Array({ minLength: 18, maxLength: 18 }), (attempt, bytes) => {
        expect(attemptOfToken(mintedToken(attempt, bytes))).toBe(attempt);
      }),
    );
    expect(attemptOfToken(mintedToken(7, crypto.randomBytes(18)))).toBe(7);
  });

  test.each([
    ['no attempt', '.abcdefghijklmnopqrstuvwx'],
    ['a non-numeric attempt', 'x.abcdefghijklmnopqrstuvwx'],
    ['a negative attempt', '-1.abcdefghijklmnopqrstuvwx'],
    ['an attempt of seven digits', '1234567.abcdefghijklmnopqrstuvwx'],
    ['a random part under 16 characters', '3.abcdefghijklmno'],
    ['a random part over 64 characters', `3.${'a'.repeat(65)}`],
    ['a character outside base64url', '3.abcdefghijklmnop+rstuvwx'],
    ['a second dot', '3.abcdefghijklmnop.qrstuvwx'],
    ['surrounding space', ' 3.abcdefghijklmnopqrstuvwx'],
    ['nothing', ''],
  ])('a token with %s names no attempt', (_why, token) => {
    expect(attemptOfToken(token)).toBeUndefined();
  });

  test('the random part may be 16 to 64 characters', () => {
    expect(attemptOfToken(`12.${'A'.repeat(16)}`)).toBe(12);
    expect(attemptOfToken(`12.${'-'.repeat(64)}`)).toBe(12);
  });
});

describe('lease ids and expiry minutes', () => {
  test('a lease id is unique per uplet and attempt (the fence document that makes a claim atomic)', () => {
    expect(leaseId('u1', 2)).toBe('u1/2');
    expect(leaseId('u1', 2)).not.toBe(leaseId('u1', 3));
    expect(leaseId('u1', 12)).not.toBe(leaseId('u11', 2));
  });

  test('instants in one minute share it; the next minute is one more', () => {
    const start = Date.UTC(2026, 0, 1, 12, 30);
    expect(minuteOf(new Date(start))).toBe(minuteOf(new Date(start + 59_999)));
    expect(minuteOf(new Date(start + 60_000))).toBe(minuteOf(new Date(start)) + 1);
    expect(minuteOf(new Date(start))).toBe(start / 60_000);
  });
});
