import type { Logger } from '../../shared/logging/logger';
import { nextRankToStart, type ChainLink } from '../domain/chain-rules';
import type { AlgoDoc, LearnupletDoc, MinibatchDoc, ProblemDoc } from '../domain/documents';
import { planMinibatches } from '../domain/minibatches';
import { learnupletUuid, minibatchId, modelEndUuid } from '../domain/uplet-ids';
import { duplicateIndexes, onlyDuplicateKeys, type Collections } from '../persistence/collections';
import type { WorkDispatcher } from '../messaging/work-dispatcher';

const LINK = { uuid: 1, rank: 1, status: 1, perf: 1, model_start: 1, model_end: 1 } as const;

/**
 * Keeps the learnuplet chains of a problem: cuts new train data into
 * minibatches, gives every algo one learnuplet per minibatch, and starts the
 * first not-yet-run rank of each chain. Every step is idempotent (deterministic
 * ids, conditional updates), so replicas and retries may run it concurrently.
 */
export class ChainKeeper {
  constructor(
    private readonly c: Collections,
    private readonly dispatcher: WorkDispatcher,
    private readonly logger: Logger,
  ) {}

  /** Brings every chain of the problem up to date; returns how many learnuplets it created. */
  async extendProblem(problem: ProblemDoc): Promise<number> {
    await this.cutMinibatches(problem);
    // Read algos and minibatches after our own writes: a concurrent algo post
    // reads minibatches after inserting its algo, so one of us sees both.
    const [allAlgos, batches] = await Promise.all([
      this.c.algos.find({ problem: problem.uuid }).toArray(),
      this.c.minibatches.find({ problem: problem.uuid }).sort({ index: 1 }).toArray(),
    ]);
    // One read of the problem's chains serves both steps: which ranks are missing,
    // and, with the new ones, which rank of each chain is runnable next.
    const links = await this.c.learnuplets.find({ problem: problem.uuid }, { projection: { ...LINK, algo: 1 } }).toArray();
    // A canceled algo's chain takes no new ranks and starts none.
    const algos = allAlgos.filter((a) => !a.timestamp_canceled);
    const created = await this.ensureLearnuplets(problem, algos, batches, links);
    const byAlgo = new Map<string, ChainLink[]>(algos.map((a) => [a.uuid, []]));
    for (const l of [...links, ...created]) byAlgo.get(l.algo)?.push(l);
    await Promise.all([...byAlgo].map(([algo, chain]) => this.startNextRank(problem, algo, chain)));
    return created.length;
  }

  /**
   * A minibatch is created once: its `_id` is `<problem>/<index>` and inserts are
   * atomic, so two concurrent cutters cannot both create index k. The loser reads again.
   */
  private async cutMinibatches(problem: ProblemDoc): Promise<void> {
    for (let round = 0; round < 10; round++) {
      const [batches, registered] = await Promise.all([
        this.c.minibatches.find({ problem: problem.uuid }, { projection: { index: 1, train_data: 1 } }).toArray(),
        this.c.datas.find({ problems: problem.uuid }, { projection: { uuid: 1, timestamp_upload: 1, upload_index: 1 } }).toArray(),
      ]);
      const batched = new Set(batches.flatMap((b) => b.train_data));
      const plan = planMinibatches(registered, problem.test_dataset, batched, problem.size_train_dataset);
      if (plan.batches.length === 0) return;
      const now = new Date();
      const docs: MinibatchDoc[] = plan.batches.map((train_data, i) => ({
        _id: minibatchId(problem.uuid, batches.length + i), problem: problem.uuid, index: batches.length + i, train_data, timestamp_creation: now,
      }));
      try {
        // Ordered: stops at the first index someone else took, so indexes stay consecutive.
        await this.c.minibatches.insertMany(docs, { ordered: true });
        return;
      } catch (err) {
        if (!onlyDuplicateKeys(err)) throw err;
        this.logger.debug('minibatch cut raced another writer; reading again', { problem: problem.uuid, round });
      }
    }
    throw new Error(`could not cut minibatches of problem ${problem.uuid} after 10 rounds of contention`);
  }

  /** Inserts the learnuplets missing from the chains; returns those this call created. */
  private async ensureLearnuplets(problem: ProblemDoc, algos: readonly AlgoDoc[], batches: readonly MinibatchDoc[], existingLinks: ReadonlyArray<{ uuid: string }>): Promise<LearnupletDoc[]> {
    if (algos.length === 0 || batches.length === 0) return [];
    const existing = new Set(existingLinks.map((l) => l.uuid));
    const now = new Date();
    const missing: LearnupletDoc[] = [];
    for (const algo of algos) {
      for (const batch of batches) {
        const uuid = learnupletUuid(problem.uuid, algo.uuid, batch.index);
        if (existing.has(uuid)) continue;
        missing.push({
          _id: uuid, uuid, problem: problem.uuid, algo: algo.uuid, workflow: problem.workflow, rank: batch.index,
          train_data: batch.train_data, test_data: problem.test_dataset,
          model_start: null, model_end: modelEndUuid(uuid),
          status: 'waiting', worker: null, attempt: 0, failure_reason: null,
          perf: null, train_perf: null, test_perf: null,
          timestamp_creation: now, timestamp_todo: null, timestamp_claimed: null, timestamp_done: null,
        });
      }
    }
    if (missing.length === 0) return [];
    try {
      await this.c.learnuplets.insertMany(missing, { ordered: false });
      return missing;
    } catch (err) {
      // Another writer created some of them first: same ids, same content. Those are not ours.
      if (!onlyDuplicateKeys(err)) throw err;
      const taken = new Set(duplicateIndexes(err));
      return missing.filter((_, i) => !taken.has(i));
    }
  }

  /**
   * Starts the first not-yet-run rank of a chain, from the model the
   * "performance increase" rule picks. The values written are a pure function of
   * the chain's finished ranks, which never change, so concurrent advancers agree.
   */
  async advanceChain(problem: ProblemDoc, algo: string): Promise<boolean> {
    const chain = await this.c.learnuplets.find({ problem: problem.uuid, algo }, { projection: LINK }).toArray();
    return this.startNextRank(problem, algo, chain);
  }

  /** Turns the chain's next runnable rank from waiting to todo, and dispatches it. */
  private async startNextRank(problem: ProblemDoc, algo: string, chain: readonly ChainLink[]): Promise<boolean> {
    const next = nextRankToStart(chain, algo, problem.metric_direction);
    if (!next) return false;
    const res = await this.c.learnuplets.updateOne(
      { _id: next.uuid, status: 'waiting' },
      { $set: { status: 'todo', model_start: next.model_start, timestamp_todo: new Date() } },
    );
    if (res.modifiedCount === 0) return false;
    await this.dispatcher.dispatch('learnuplet', [next.uuid]);
    return true;
  }

  async advanceChainOf(learnuplet: Pick<LearnupletDoc, 'problem' | 'algo'>): Promise<boolean> {
    const problem = await this.c.problems.findOne({ _id: learnuplet.problem });
    return problem ? this.advanceChain(problem, learnuplet.algo) : false;
  }
}

