import type { Collection } from 'mongodb';
import type { Logger } from '../../shared/logging/logger';
import type { LeaseDoc } from '../persistence/collections';

/** A queued deletion waits this long for others to join it. */
const BATCH_WAIT_MS = 50;
/** A batch goes at once when it holds this many. */
const BATCH_SIZE = 256;

/**
 * Deletes settled leases in batches: one `deleteMany` for the leases that settled within
 * BATCH_WAIT_MS, instead of a `deleteOne` after each report (a PostgreSQL round trip each on
 * FerretDB). A settled lease grants nothing: every path that acts on a lease checks or wins its
 * attempt's settlement first (heartbeat, report, release, cancellation, expiry). One whose deletion
 * is lost with the process is deleted by the reaper when it expires (its settlement fence is
 * already taken, so that expiry changes nothing else).
 */
export class SettledLeaseDeleter {
  private readonly queued = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly leases: Collection<LeaseDoc>,
    private readonly logger: Logger,
  ) {}

  /** Queues the deletion of a settled lease. */
  delete(id: string): void {
    this.queued.add(id);
    if (this.queued.size >= BATCH_SIZE) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), BATCH_WAIT_MS);
      this.timer.unref();
    }
  }

  /** Deletes what is queued now; resolves when that batch (and any before it) is done. A failed batch is queued again. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queued.size === 0) return this.running;
    const ids = [...this.queued];
    this.queued.clear();
    this.running = this.running.then(async () => {
      try {
        await this.leases.deleteMany({ _id: { $in: ids } });
      } catch (err) {
        this.logger.warn('settled leases not deleted yet; retrying with the next batch', { leases: ids.length, error: (err as Error).message });
        for (const id of ids) this.queued.add(id);
        if (!this.timer) {
          this.timer = setTimeout(() => void this.flush(), BATCH_WAIT_MS * 20);
          this.timer.unref();
        }
      }
    });
    return this.running;
  }
}
