import type { Logger } from '../../shared/logging/logger';
import { TASK_KINDS, type TaskKind } from '../../shared/contracts/work-contract';
import { LOOKUP_CONCURRENCY, mapBounded, type Collections } from '../persistence/collections';
import { tasksOf, type TaskKindTable } from '../work/task-kinds';
import type { WorkLeases } from '../work/work-leases';
import type { WorkDispatcher } from '../work/work-dispatcher';
import type { OrchestratorMetrics } from '../metrics';

export interface SweepSettings {
  /** Republish todo work whose last publish is older than this. */
  republishAfterMs: number;
  batch: number;
}

export interface SweepResult {
  republished: number;
  repaired: number;
  /** Follow-ups a crash interrupted and the sweep re-drove (e.g. a chain's next rank). */
  followUps: number;
}

/**
 * Makes sure nothing is lost between a database write and what should follow
 * it: todo work nobody claimed is published again (claims are conditional, so a
 * duplicate message is harmless), a pending uplet whose attempt is already
 * settled gets that settlement applied, and each kind's interrupted follow-ups
 * (a chain whose next rank waits behind finished ranks) are driven again.
 */
export class TodoSweeper {
  constructor(
    private readonly c: Collections,
    private readonly dispatcher: WorkDispatcher,
    private readonly kinds: TaskKindTable,
    private readonly leases: WorkLeases,
    private readonly settings: SweepSettings,
    private readonly logger: Logger,
    private readonly metrics?: OrchestratorMetrics,
  ) {}

  async sweep(): Promise<SweepResult> {
    let republished = 0;
    let repaired = 0;
    let followUps = 0;
    // Only follow-ups older than the republish delay: one still in flight is not taken over.
    const cutoff = new Date(Date.now() - this.settings.republishAfterMs);
    for (const kind of TASK_KINDS) {
      republished += await this.republish(kind);
      repaired += await this.repairPending(kind);
      followUps += await this.kinds[kind].repairFollowUps(cutoff, this.settings.batch);
    }
    if (republished + repaired + followUps > 0) this.logger.info('sweep', { republished, repaired, followUps });
    return { republished, repaired, followUps };
  }

  /**
   * Todo work nobody claimed for a while. The query leads with the equality
   * `status: 'todo'` (FerretDB pushes only equality down, and scans a range
   * alone); the last publish of each is then read by `_id`, not with `$in`.
   */
  private async republish(kind: TaskKind): Promise<number> {
    const cutoff = new Date(Date.now() - this.settings.republishAfterMs);
    const stale: Array<{ _id: string }> = await tasksOf(this.kinds, this.c, kind)
      .find({ status: 'todo', timestamp_todo: { $lt: cutoff } }, { projection: { _id: 1 } })
      .limit(this.settings.batch)
      .toArray();
    if (stale.length === 0) return 0;
    const published = await mapBounded(stale, LOOKUP_CONCURRENCY, (d) => this.c.dispatches.findOne({ _id: d._id }, { projection: { published_at: 1 } }));
    const due = stale.filter((_, i) => !(published[i] && (published[i] as { published_at: Date }).published_at >= cutoff)).map((d) => d._id);
    await this.dispatcher.dispatch(kind, due, undefined, { republish: true });
    this.metrics?.republished.inc({ kind }, due.length);
    return due.length;
  }

  private async repairPending(kind: TaskKind): Promise<number> {
    const pending = await tasksOf(this.kinds, this.c, kind)
      .find({ status: 'pending' }, { projection: { _id: 1, attempt: 1 } })
      .limit(this.settings.batch)
      .toArray();
    let repaired = 0;
    for (const p of pending) if (await this.leases.reapplySettlement(kind, p._id, p.attempt)) repaired++;
    return repaired;
  }
}
