import fc from 'fast-check';
import { firstMissing } from '../../orchestrator/work/chain-keeper';

/** The train log's end is found from a stale hint by galloping then bisecting, in O(log distance) lookups. */
describe('firstMissing', () => {
  test('finds the end of a gap-free prefix from any hint at or below it', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 5_000 }), async (length, rawHint) => {
        const hint = Math.min(rawHint, length);
        let lookups = 0;
        const end = await firstMissing(hint, async (pos) => (lookups++, pos < length));
        expect(end).toBe(length);
        expect(lookups).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(length - hint + 2)) + 2);
      }),
    );
  });

  test('an exact hint costs one lookup', async () => {
    let lookups = 0;
    expect(await firstMissing(42, async (pos) => (lookups++, pos < 42))).toBe(42);
    expect(lookups).toBe(1);
  });
});
