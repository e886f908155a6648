import type { TaskSlot } from './work-runner';

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

/**
 * The agent's slots, as its tasks use them: `size` tasks compute at once; while they do, at most
 * `size` more may be claimed ahead (each waits for a slot, its lease held); and a task whose
 * sandboxed work is over may hand its slot on while its outputs upload, at most `size` such at once.
 */
export class ComputeSlots {
  private readonly computing: WorkSlots;
  private readonly claimsAhead: WorkSlots;
  private readonly storing: WorkSlots;

  constructor(
    size: number,
    private readonly waitMs: number,
    private readonly stopping: () => boolean,
  ) {
    this.computing = new WorkSlots(size);
    this.claimsAhead = new WorkSlots(size);
    this.storing = new WorkSlots(size);
  }

  /** Tasks computing now (a slot held, outputs not handed on). */
  get busy(): number {
    return this.computing.busy;
  }

  /** Room to claim one more task: true within `waitMs`, else false (the message goes back). */
  reserveClaim(): Promise<boolean> {
    return this.claimsAhead.acquire(this.waitMs);
  }

  /** The claim failed: its room is free again. */
  cancelClaim(): void {
    this.claimsAhead.release();
  }

  /** The slot of a task just claimed on a reserved room (see TaskSlot). */
  slotForClaimed(): TaskSlot {
    let storingWithoutSlot = false;
    return {
      wait: async (signal) => {
        try {
          if (this.stopping() || !(await this.computing.acquire(this.waitMs, signal))) return false;
          if (!this.stopping()) return true;
          this.computing.release(); // granted as the agent began to stop: the lease goes back instead
          return false;
        } finally {
          this.claimsAhead.release();
        }
      },
      computed: () => {
        if (!this.storing.tryAcquire()) return;
        storingWithoutSlot = true;
        this.computing.release();
      },
      free: () => (storingWithoutSlot ? this.storing.release() : this.computing.release()),
    };
  }
}
