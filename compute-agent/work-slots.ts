/** At most `size` holders at once; a waiter gives up after `timeoutMs`, or when `signal` aborts. */
export class WorkSlots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly size: number) {}

  get busy(): number {
    return this.used;
  }

  /** A slot now if one is free; false at once otherwise. */
  tryAcquire(): boolean {
    if (this.used >= this.size) return false;
    this.used++;
    return true;
  }

  async acquire(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return false;
    if (this.used < this.size) {
      this.used++;
      return true;
    }
    return new Promise((resolve) => {
      const giveUp = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      };
      const grant = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        this.used++;
        resolve(true);
      };
      const timer = setTimeout(giveUp, timeoutMs);
      signal?.addEventListener('abort', giveUp, { once: true });
      this.waiters.push(grant);
    });
  }

  release(): void {
    this.used--;
    this.waiters.shift()?.();
  }
}
