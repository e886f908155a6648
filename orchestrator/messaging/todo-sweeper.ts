import type { Logger } from '../../shared/logging/logger';
import type { UpletKind } from '../domain/documents';
import { LOOKUP_CONCURRENCY, mapBounded, type Collections } from '../persistence/collections';
import type { ChainKeeper } from '../work/chain-keeper';
import type { WorkLeases } from '../work/work-leases';
import type { WorkDispatcher } from './work-dispatcher';
import type { OrchestratorMetrics } from '../metrics';

export interface SweepSettings {
  /** Republish todo work whose last publish is older than this. */
  republishAfterMs: number;
  batch: number;
}

export interface SweepResult {
  republished: number;
  repaired: number;
  chainsAdvanced: number;
}

/**
 * Makes sure nothing is lost between a database write and what should follow
 * it: todo work nobody claimed is published again (claims are conditional, so a
 * duplicate message is harmless), a pending uplet whose attempt is already
 * settled gets that settlement applied, and a chain whose next rank is waiting
 * behind finished ranks is advanced.
 */
export class TodoSweeper {
  constructor(
    private readonly c: Collections,
    private readonly dispatcher: WorkDispatcher,
    private readonly chains: ChainKeeper,
    private readonly leases: WorkLeases,
    private readonly settings: SweepSettings,
    private readonly logger: Logger,
    private readonly metrics?: OrchestratorMetrics,
  ) {}

  async sweep(): Promise<SweepResult> {
    const republished = (await this.republish('learnuplet')) + (await this.republish('preduplet'));
    const repaired = (await this.repairPending('learnuplet')) + (await this.repairPending('preduplet'));
    const chainsAdvanced = await this.advanceStalledChains();
    if (republished + repaired + chainsAdvanced > 0) this.logger.info('sweep', { republished, repaired, chainsAdvanced });
    return { republished, repaired, chainsAdvanced };
  }

  /**
   * Todo work nobody claimed for a while. The query leads with the equality
   * `status: 'todo'` (FerretDB pushes only equality down, and scans a range
   * alone); the last publish of each is then read by `_id`, not with `$in`.
   */
  private async republish(kind: UpletKind): Promise<number> {
    const cutoff = new Date(Date.now() - this.settings.republishAfterMs);
    const collection = kind === 'learnuplet' ? this.c.learnuplets : this.c.preduplets;
    const stale: Array<{ _id: string }> = await collection.find({ status: 'todo', timestamp_todo: { $lt: cutoff } }, { projection: { _id: 1 } }).limit(this.settings.batch).toArray();
    if (stale.length === 0) return 0;
    const published = await mapBounded(stale, LOOKUP_CONCURRENCY, (d) => this.c.dispatches.findOne({ _id: d._id }, { projection: { published_at: 1 } }));
    const due = stale.filter((_, i) => !(published[i] && (published[i] as { published_at: Date }).published_at >= cutoff)).map((d) => d._id);
    await this.dispatcher.dispatch(kind, due);
    this.metrics?.republished.inc({ kind }, due.length);
    return due.length;
  }

  private async repairPending(kind: UpletKind): Promise<number> {
    const collection = kind === 'learnuplet' ? this.c.learnuplets : this.c.preduplets;
    const pending = await collection.find({ status: 'pending' }, { projection: { _id: 1, attempt: 1 } }).limit(this.settings.batch).toArray();
    let repaired = 0;
    for (const p of pending) if (await this.leases.reapplySettlement(kind, p._id, p.attempt)) repaired++;
    return repaired;
  }

  /**
   * Chains whose advance was interrupted: the markers `finishRank` leaves when
   * it does not get to the end. Only markers older than the republish delay, so
   * an advance still in flight is not taken over (and its marker not removed
   * before its write lands).
   */
  private async advanceStalledChains(): Promise<number> {
    const cutoff = Date.now() - this.settings.republishAfterMs;
    const markers = (await this.c.chainAdvances.find({}).limit(this.settings.batch).toArray()).filter((m) => m.at.getTime() < cutoff);
    const chains = new Map(markers.map((m) => [`${m.problem}/${m.algo}`, m]));
    let advanced = 0;
    for (const chain of chains.values()) if (await this.chains.advanceChainOf(chain)) advanced++;
    for (const m of markers) await this.c.chainAdvances.deleteOne({ _id: m._id });
    return advanced;
  }
}
