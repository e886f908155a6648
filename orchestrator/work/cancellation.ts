import type { Principal } from '../../shared/auth/api-keys';
import { ForbiddenError, NotFoundError } from '../../shared/errors/uplet-error';
import { TERMINAL } from '../domain/chain-rules';
import type { TaskKind } from '../domain/documents';
import type { Collections } from '../persistence/collections';
import type { WorkLeases } from './work-leases';

export interface CancelOutcome {
  canceled_learnuplets: number;
  canceled_preduplets: number;
}

/**
 * What users may withdraw: an algo's remaining chain (its author), a problem's queued and
 * running work (its organizer), a prediction (its requester); admins may do all three. The
 * algo or problem is marked first, so chain extension stops adding ranks to it; then each
 * unfinished uplet is canceled through the lease fences (WorkLeases.cancel).
 */
export class Cancellation {
  constructor(
    private readonly c: Collections,
    private readonly leases: WorkLeases,
  ) {}

  async cancelAlgo(uuid: string, by: Principal): Promise<CancelOutcome> {
    const algo = await this.c.algos.findOne({ _id: uuid });
    if (!algo) throw new NotFoundError(`algo ${uuid} does not exist`, { details: { where: 'path', field: 'uuid' } });
    requireOwner(by, algo.owner, `algo ${uuid}`);
    if (!algo.timestamp_canceled) await this.c.algos.updateOne({ _id: uuid }, { $set: { timestamp_canceled: new Date() } });
    return { canceled_learnuplets: await this.cancelChainOf(uuid, `algo ${uuid} canceled by ${by.name}`, by), canceled_preduplets: 0 };
  }

  async cancelProblem(uuid: string, by: Principal): Promise<CancelOutcome> {
    const problem = await this.c.problems.findOne({ _id: uuid });
    if (!problem) throw new NotFoundError(`problem ${uuid} does not exist`, { details: { where: 'path', field: 'uuid' } });
    requireOwner(by, problem.owner, `problem ${uuid}`);
    if (!problem.timestamp_canceled) await this.c.problems.updateOne({ _id: uuid }, { $set: { timestamp_canceled: new Date() } });
    const reason = `problem ${uuid} canceled by ${by.name}`;
    let learn = 0;
    for (const algo of await this.c.algos.find({ problem: uuid }, { projection: { _id: 1, timestamp_canceled: 1 } }).toArray()) {
      if (!algo.timestamp_canceled) await this.c.algos.updateOne({ _id: algo._id }, { $set: { timestamp_canceled: new Date() } });
      learn += await this.cancelChainOf(algo._id, reason, by);
    }
    const preds = await this.c.preduplets.find({ problem: uuid }, { projection: { _id: 1, status: 1 } }).toArray();
    return { canceled_learnuplets: learn, canceled_preduplets: await this.cancelEach('preduplet', preds, reason, by) };
  }

  async cancelPreduplet(uuid: string, by: Principal): Promise<CancelOutcome> {
    const pred = await this.c.preduplets.findOne({ _id: uuid });
    if (!pred) throw new NotFoundError(`preduplet ${uuid} does not exist`, { details: { where: 'path', field: 'uuid' } });
    requireOwner(by, pred.owner, `preduplet ${uuid}`);
    return { canceled_learnuplets: 0, canceled_preduplets: await this.cancelEach('preduplet', [pred], `preduplet canceled by ${by.name}`, by) };
  }

  /** Later ranks first, so no rank is started behind one this call is canceling. */
  private async cancelChainOf(algo: string, reason: string, by: Principal): Promise<number> {
    const links = await this.c.learnuplets.find({ algo }, { projection: { _id: 1, status: 1, rank: 1 } }).toArray();
    return this.cancelEach(
      'learnuplet',
      links.sort((a, b) => b.rank - a.rank),
      reason,
      by,
    );
  }

  private async cancelEach(kind: TaskKind, uplets: ReadonlyArray<{ _id: string; status: string }>, reason: string, by: Principal): Promise<number> {
    let canceled = 0;
    for (const u of uplets) {
      if (TERMINAL.has(u.status as never)) continue;
      if (await this.leases.cancel(kind, u._id, reason, by)) canceled++;
    }
    return canceled;
  }
}

function requireOwner(by: Principal, owner: string, what: string): void {
  if (by.name !== owner && !by.roles.includes('admin')) {
    throw new ForbiddenError(`only the owner of ${what} (${owner}) or an admin may cancel it`, { details: { where: 'path', field: 'uuid' } });
  }
}
