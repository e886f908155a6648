import { RecentMap } from '../../shared/recent-map';

describe('RecentMap', () => {
  test('keeps the most recently set entries up to its limit; a set renews a key, a read does not', () => {
    const m = new RecentMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.set('a', 3); // renewed: b is now the oldest
    m.set('c', 4);
    expect([m.get('a'), m.get('b'), m.get('c')]).toEqual([3, undefined, 4]);
    expect(m.get('a')).toBe(3); // a read does not renew: a stays the oldest
    m.set('d', 5);
    expect([m.has('a'), m.has('c'), m.has('d')]).toEqual([false, true, true]);
    m.delete('c');
    expect(m.has('c')).toBe(false);
  });
});
