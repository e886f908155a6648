import type { Logger } from '../../shared/logging/logger';
import type { UpletKind } from '../domain/documents';
import type { Collections } from '../persistence/collections';
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

  private async republish(kind: UpletKind): Promise<number> {
    const cutoff = new Date(Date.now() - this.settings.republishAfterMs);
    const collection = kind === 'learnuplet' ? this.c.learnuplets : this.c.preduplets;
    const stale = await collection.find({ status: 'todo', timestamp_todo: { $lt: cutoff } }, { projection: { _id: 1 } }).limit(this.settings.batch).toArray();
    if (stale.length === 0) return 0;
    const recent = new Set((await this.c.dispatches.find({ _id: { $in: stale.map((d) => d._id) }, published_at: { $gte: cutoff } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id));
    const due = stale.map((d) => d._id).filter((id) => !recent.has(id));
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

  private async advanceStalledChains(): Promise<number> {
    const waiting = await this.c.learnuplets.find({ status: 'waiting' }, { projection: { problem: 1, algo: 1 } }).limit(this.settings.batch * 10).toArray();
    const chains = new Map(waiting.map((w) => [`${w.problem}/${w.algo}`, w]));
    let advanced = 0;
    for (const chain of chains.values()) if (await this.chains.advanceChainOf(chain)) advanced++;
    return advanced;
  }
}
