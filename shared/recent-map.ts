/**
 * A Map that keeps its `limit` most recently set entries: a set moves its key to the newest end,
 * and the oldest goes past the limit. Reads do not reorder. For what a process remembers to save
 * work, whose loss costs only that work again (a database read of a document that never changes,
 * an idle timeout), never a wrong answer.
 */
export class RecentMap<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly limit: number) {}

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
