/** At most `size` tasks at once; a waiter gives up after `timeoutMs` (its message goes back to the queue). */
export class WorkSlots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly size: number) {}

  get busy(): number {
    return this.used;
  }

  async acquire(timeoutMs: number): Promise<boolean> {
    if (this.used < this.size) {
      this.used++;
      return true;
    }
    return new Promise((resolve) => {
      const grant = () => {
        clearTimeout(timer);
        this.used++;
        resolve(true);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(grant);
    });
  }

  release(): void {
    this.used--;
    this.waiters.shift()?.();
  }
}
