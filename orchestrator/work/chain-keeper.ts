import type { Logger } from '../../shared/logging/logger';
import { nextRankToStart, TERMINAL, type ChainLink } from '../domain/chain-rules';
import type { AlgoDoc, LearnupletDoc, MinibatchDoc, ProblemDoc } from '../domain/documents';
import { learnupletUuid, logId, logKey, minibatchId, modelEndUuid, rankCursor, siteBatchId, siteTrainCursor } from '../domain/uplet-ids';
import { DEFAULT_SITE, siteOf } from '../../shared/contracts/sites';
import { duplicateIndexes, insertUnordered, isDuplicateKey, onlyDuplicateKeys, type Collections, type TrainLogDoc } from '../persistence/collections';
import { NO_EVENTS, type EventPublisher } from './event-publisher';
import type { WorkDispatcher } from './work-dispatcher';

/** The learnuplets one call built, by uuid (a rank it starts is dispatched with its document: ClaimHints). */
type BuiltLearnuplets = ReadonlyMap<string, LearnupletDoc>;
const LINK = { uuid: 1, rank: 1, status: 1, perf: 1, model_start: 1, model_end: 1, site: 1 } as const;

/**
 * Keeps the learnuplet chains of a problem: appends new train data to the
 * problem's train log, cuts what became full into minibatches, gives every algo
 * one learnuplet per minibatch, and starts the first not-yet-run rank of each
 * chain. Every step is idempotent (deterministic ids, insert fences,
 * conditional updates), so replicas and retries may run it concurrently, and
 * each costs what is new, not what the problem already holds.
 */
export class ChainKeeper {
  constructor(
    private readonly c: Collections,
    private readonly dispatcher: WorkDispatcher,
    private readonly logger: Logger,
    private readonly events: EventPublisher = NO_EVENTS,
  ) {}

  /**
   * Appends train data to the problem's train log at its site (registration order), cuts the
   * site's batches that became full, places each at the problem's next free rank (so a chain's
   * ranks follow the order in which the sites' data filled minibatches) and extends every
   * algo's chain with them. Reads only what is new: the log's end and the batches from the
   * site's cursor on, by `_id` or by equality, never the problem's whole data. Returns how many
   * learnuplets this call created.
   */
  async addTrainData(problem: ProblemDoc, data: readonly string[], site: string = DEFAULT_SITE): Promise<number> {
    const test = new Set(problem.test_dataset);
    const train = data.filter((d) => !test.has(d));
    if (train.length === 0) return 0;
    const placed = await this.appendToLog(problem.uuid, site, train, problem.size_train_dataset);
    const end = lastKey(placed) + 1;
    return this.cutAndExtend(problem, site, placed, Math.floor(end / problem.size_train_dataset));
  }

  /** A new algo: one learnuplet per minibatch cut so far, then its rank 0 starts. */
  async extendForAlgo(problem: ProblemDoc, algo: AlgoDoc): Promise<number> {
    // Read after the algo's insert: a concurrent data post reads the algos after
    // inserting its minibatches, so one of us sees both.
    const batches = await this.c.minibatches.find({ problem: problem.uuid }).sort({ index: 1 }).toArray();
    const { created, built } = await this.ensureLearnuplets(problem, [algo], batches);
    const first = built.get(learnupletUuid(problem.uuid, algo.uuid, 0));
    // Rank 0 inserted here is todo already; one another writer inserted is that writer's to dispatch,
    // and one left waiting by an older version starts through the chain's read.
    if (first) await this.dispatchInserted(problem, first);
    else if (batches.length > 0) await this.advanceChain(problem, algo.uuid, built);
    return created;
  }

  /**
   * Takes the next free positions of the site's log, in order. A position is an
   * insert fence, so two posts never share one; when another post took a position
   * first, the rest goes after the new end. Returns position → data.
   */
  private async appendToLog(problem: string, site: string, data: readonly string[], size: number): Promise<Map<number, string>> {
    const key = logKey(problem, site);
    const placed = new Map<number, string>();
    const cursor = await this.c.cursors.findOne({ _id: siteTrainCursor(problem, site) });
    let pos = await this.logEnd(key, cursor?.next_pos ?? 0);
    let rest = data;
    for (let round = 0; rest.length > 0; round++) {
      if (round >= 100) throw new Error(`could not append to the train log of problem ${problem} at site ${site} after 100 rounds of contention`);
      const docs: TrainLogDoc[] = rest.map((d, i) => ({
        _id: logId(key, pos + i),
        problem,
        site,
        pos: pos + i,
        data: d,
        batch: siteBatchId(problem, site, Math.floor((pos + i) / size)),
      }));
      try {
        // Ordered: stops at the first position someone else took, so positions stay a gap-free prefix.
        await this.c.trainLog.insertMany(docs, { ordered: true });
        for (const d of docs) placed.set(d.pos, d.data);
        rest = [];
      } catch (err) {
        if (!onlyDuplicateKeys(err)) throw err;
        // Ordered: everything before the first duplicate was inserted, nothing after it.
        const dups = duplicateIndexes(err);
        const taken = dups.length > 0 ? dups.reduce((a, b) => Math.min(a, b), docs.length) : 0;
        for (const d of docs.slice(0, taken)) placed.set(d.pos, d.data);
        rest = rest.slice(taken);
        pos = await this.logEnd(key, pos + taken);
        this.logger.debug('train log append raced another post; appending after it', { problem, site, round });
      }
    }
    await this.hint(siteTrainCursor(problem, site), { next_pos: lastKey(placed) + 1 });
    return placed;
  }

  /** The first free log position at or after `from` (whose predecessor exists): gallop, then bisect. */
  private async logEnd(key: string, from: number): Promise<number> {
    const exists = async (pos: number) => (await this.c.trainLog.findOne({ _id: logId(key, pos) }, { projection: { _id: 1 } })) !== null;
    return firstMissing(from, exists);
  }

  /**
   * Places the site's batches [cursor, upTo) at ranks (see `placeBatch`; their content is
   * fixed by the site's log, so concurrent cutters agree) and gives every algo its learnuplets
   * for them. The cursor moves on only after, so a crash in between is redone by the next post
   * to that site.
   */
  private async cutAndExtend(problem: ProblemDoc, site: string, placed: ReadonlyMap<number, string>, upTo: number): Promise<number> {
    const size = problem.size_train_dataset;
    const cursor = await this.c.cursors.findOne({ _id: siteTrainCursor(problem.uuid, site) });
    const from = Math.min(cursor?.next_batch ?? 0, upTo);
    if (from >= upTo) return 0;
    const now = new Date();
    const contents: string[][] = [];
    // In order: a site's batch j+1 never takes a rank before its batch j.
    for (let j = from; j < upTo; j++) {
      const positions = Array.from({ length: size }, (_, i) => j * size + i);
      let train_data = positions.map((p) => placed.get(p));
      if (train_data.some((d) => d === undefined)) {
        // Part of it was appended by another post: one equality read of this batch's entries.
        const entries = await this.c.trainLog.find({ batch: siteBatchId(problem.uuid, site, j) }, { projection: { pos: 1, data: 1 } }).toArray();
        train_data = entries.sort((a, b) => a.pos - b.pos).map((e) => e.data);
        if (train_data.length !== size)
          throw new Error(`batch ${j} of problem ${problem.uuid} at site ${site} has ${train_data.length} log entries, expected ${size}`);
      }
      contents.push(train_data as string[]);
    }
    const batches = await this.placeBatches(problem.uuid, site, from, contents, now);
    // A canceled algo's chain takes no new ranks and starts none.
    const algos = (await this.c.algos.find({ problem: problem.uuid }).toArray()).filter((a) => !a.timestamp_canceled);
    const { created, built } = await this.ensureLearnuplets(problem, algos, batches);
    const ranks = new Set(batches.map((b) => b.index));
    // Each new rank whose predecessor is not new too may start now (other sites' ranks may sit between them).
    const firsts = [...ranks].filter((k) => !ranks.has(k - 1));
    // A rank runs at its batch's site (ensureLearnuplets): said here, the dispatch need not read it back.
    const siteOfRank = new Map(batches.map((b) => [b.index, siteOf(b)]));
    await Promise.all(algos.flatMap((a) => firsts.map((k) => this.startAfterAppend(problem, a.uuid, k, built, siteOfRank.get(k)))));
    await this.hint(siteTrainCursor(problem.uuid, site), { next_batch: upTo });
    return created;
  }

  /**
   * Places the site's batches from..from+n-1 at ranks, in order. First optimistically, in one
   * ordered insert at the next free ranks (a post of 10,000 items is a few inserts, not one per
   * batch); what that could not place (a rank taken meanwhile, or a batch placed by a concurrent
   * cutter) is placed one by one.
   */
  private async placeBatches(problem: string, site: string, from: number, contents: readonly string[][], now: Date): Promise<MinibatchDoc[]> {
    if (contents.length === 0) return [];
    const exists = async (k: number) => (await this.c.minibatches.findOne({ _id: minibatchId(problem, k) }, { projection: { _id: 1 } })) !== null;
    const hint = await this.c.cursors.findOne({ _id: rankCursor(problem) });
    const k0 = await firstMissing(hint?.next_batch ?? 0, exists);
    const docs: MinibatchDoc[] = contents.map((train_data, i) => ({
      _id: minibatchId(problem, k0 + i),
      problem,
      index: k0 + i,
      site,
      site_batch: siteBatchId(problem, site, from + i),
      train_data,
      timestamp_creation: now,
    }));
    let placed = docs.length;
    try {
      await this.c.minibatches.insertMany(docs, { ordered: true });
    } catch (err) {
      if (!onlyDuplicateKeys(err)) throw err;
      const dups = duplicateIndexes(err);
      placed = dups.length > 0 ? dups.reduce((a, b) => Math.min(a, b), docs.length) : 0;
    }
    if (placed > 0) await this.hint(rankCursor(problem), { next_batch: k0 + placed });
    const out = docs.slice(0, placed);
    for (let i = placed; i < contents.length; i++) out.push(await this.placeBatch(problem, site, from + i, contents[i]!, now));
    return out;
  }

  /**
   * Places a site's batch j at the problem's next free rank k: the minibatch `<problem>/<k>`
   * is an insert fence (one batch per rank) and its `site_batch` a unique key (one rank per
   * batch), so concurrent cutters of the same batch agree on its rank and no rank is shared.
   */
  private async placeBatch(problem: string, site: string, j: number, train_data: string[], now: Date): Promise<MinibatchDoc> {
    const site_batch = siteBatchId(problem, site, j);
    const found = await this.c.minibatches.findOne({ site_batch });
    if (found) return found;
    const exists = async (k: number) => (await this.c.minibatches.findOne({ _id: minibatchId(problem, k) }, { projection: { _id: 1 } })) !== null;
    const hint = await this.c.cursors.findOne({ _id: rankCursor(problem) });
    let k = await firstMissing(hint?.next_batch ?? 0, exists);
    for (let round = 0; round < 1000; round++) {
      const doc: MinibatchDoc = { _id: minibatchId(problem, k), problem, index: k, site, site_batch, train_data, timestamp_creation: now };
      try {
        await this.c.minibatches.insertOne(doc);
        await this.hint(rankCursor(problem), { next_batch: k + 1 });
        return doc;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Either another cutter placed this very batch (unique site_batch), or rank k is taken.
        const mine = await this.c.minibatches.findOne({ site_batch });
        if (mine) return mine;
        k = await firstMissing(k + 1, exists);
      }
    }
    throw new Error(`could not place batch ${j} of problem ${problem} at site ${site} after 1000 rounds of contention`);
  }

  /**
   * Rank `first` and later were just added to the chain. Rank 0 starts at once;
   * a later one only when the rank before it has finished (else that rank's
   * report starts it). The ranks were inserted before this read, and a report
   * writes its status before reading the chain: one of the two sees the other.
   */
  private async startAfterAppend(problem: ProblemDoc, algo: string, first: number, built: BuiltLearnuplets, site?: string): Promise<void> {
    if (first === 0) {
      const uuid = learnupletUuid(problem.uuid, algo, 0);
      const inserted = built.get(uuid);
      // Not inserted by this call: another writer's (todo, its to dispatch) or an older version's, left waiting.
      if (inserted) await this.dispatchInserted(problem, inserted);
      else await this.startRank(problem, uuid, algo, site);
      return;
    }
    const before = await this.c.learnuplets.findOne({ _id: learnupletUuid(problem.uuid, algo, first - 1) }, { projection: { status: 1 } });
    if (before && TERMINAL.has(before.status)) await this.advanceChain(problem, algo, built);
  }

  /** Best-effort: a lost or stale hint only costs a few more probes. */
  private async hint(cursor: string, values: { next_pos?: number; next_batch?: number }): Promise<void> {
    await this.c.cursors.updateOne({ _id: cursor }, { $max: values }, { upsert: true }).catch((err: Error) => {
      this.logger.debug('could not move a train cursor', { cursor, error: err.message });
    });
  }

  /**
   * Inserts the learnuplets of these algos × minibatches; returns how many this call created, and
   * those, by uuid. Rank 0 is inserted todo: it starts from the algo itself and waits for no
   * other rank, so it is runnable the moment it exists (one write less between a new algo and
   * its first claim); the caller dispatches the ones it inserted.
   */
  private async ensureLearnuplets(
    problem: ProblemDoc,
    algos: readonly AlgoDoc[],
    batches: readonly MinibatchDoc[],
  ): Promise<{ created: number; built: BuiltLearnuplets }> {
    if (algos.length === 0 || batches.length === 0) return { created: 0, built: new Map() };
    const now = new Date();
    const missing: LearnupletDoc[] = [];
    for (const algo of algos) {
      for (const batch of batches) {
        const uuid = learnupletUuid(problem.uuid, algo.uuid, batch.index);
        missing.push({
          _id: uuid,
          uuid,
          problem: problem.uuid,
          algo: algo.uuid,
          workflow: problem.workflow,
          rank: batch.index,
          site: siteOf(batch),
          train_data: batch.train_data,
          test_data: problem.test_dataset,
          model_start: batch.index === 0 ? algo.uuid : null,
          model_end: modelEndUuid(uuid),
          status: batch.index === 0 ? 'todo' : 'waiting',
          worker: null,
          attempt: 0,
          failure_reason: null,
          perf: null,
          train_perf: null,
          test_perf: null,
          timestamp_creation: now,
          timestamp_todo: batch.index === 0 ? now : null,
          timestamp_claimed: null,
          timestamp_done: null,
        });
      }
    }
    // Another writer may have created some of them first: same ids, same content. Those are not ours.
    const existed = new Set(await insertUnordered(this.c.learnuplets, missing));
    // Only those this call inserted: another writer's copy differs in its timestamps.
    const built = new Map(missing.filter((_, i) => !existed.has(i)).map((l) => [l.uuid, l]));
    return { created: missing.length - existed.size, built };
  }

  /**
   * Starts the first not-yet-run rank of a chain, from the model the
   * "performance increase" rule picks. The values written are a pure function of
   * the chain's finished ranks, which never change, so concurrent advancers agree.
   */
  async advanceChain(problem: ProblemDoc, algo: string, built?: BuiltLearnuplets): Promise<boolean> {
    const chain = await this.c.learnuplets.find({ problem: problem.uuid, algo }, { projection: LINK }).toArray();
    return this.startNextRank(problem, algo, chain, built);
  }

  /** Turns the chain's next runnable rank from waiting to todo, and dispatches it. */
  private async startNextRank(problem: ProblemDoc, algo: string, chain: readonly ChainLink[], built?: BuiltLearnuplets): Promise<boolean> {
    const next = nextRankToStart(chain, algo, problem.metric_direction);
    return next ? this.startRank(problem, next.uuid, next.model_start, siteOf(chain.find((l) => l.uuid === next.uuid)), built?.get(next.uuid)) : false;
  }

  /** Dispatches a rank this call inserted todo (rank 0), with its document (ClaimHints). */
  private dispatchInserted(problem: ProblemDoc, inserted: LearnupletDoc): Promise<void> {
    return this.announceTodo(problem, inserted.uuid, siteOf(inserted), inserted);
  }

  /** A rank just written todo: its event, then its message (with the document as written, when the caller has it). */
  private async announceTodo(problem: ProblemDoc, uuid: string, site?: string, written?: LearnupletDoc): Promise<void> {
    this.events.publish({ subject: 'learnuplet', id: uuid, status: 'todo', scope: { problem: problem.uuid } });
    await this.dispatcher.dispatch('learnuplet', [uuid], site, written ? { written: [written] } : undefined);
  }

  /**
   * `site`, when the caller has read it, saves the dispatcher a read between the todo write and the
   * publish; `inserted`, the learnuplet as the caller built it, spares its claim reading it back (ClaimHints).
   */
  private async startRank(problem: ProblemDoc, uuid: string, modelStart: string, site?: string, inserted?: LearnupletDoc): Promise<boolean> {
    const todo = { status: 'todo' as const, model_start: modelStart, timestamp_todo: new Date() };
    const res = await this.c.learnuplets.updateOne({ _id: uuid, status: 'waiting' }, { $set: todo });
    if (res.modifiedCount === 0) return false;
    await this.announceTodo(problem, uuid, site, inserted ? { ...inserted, ...todo } : undefined);
    return true;
  }

  /**
   * Records that a rank finished (`write`) and advances its chain. A marker is
   * inserted first and removed after: a crash in between leaves the marker, and
   * the sweeper advances what markers remain instead of reading every waiting
   * learnuplet.
   */
  async finishRank(learnuplet: Pick<LearnupletDoc, '_id' | 'problem' | 'algo'>, attempt: number, write: () => Promise<unknown>): Promise<void> {
    const _id = `${learnuplet._id}/${attempt}`;
    await this.c.chainAdvances.insertOne({ _id, problem: learnuplet.problem, algo: learnuplet.algo, at: new Date() }).catch((err: unknown) => {
      if (!isDuplicateKey(err)) throw err;
    });
    await write();
    await this.advanceChainOf(learnuplet);
    await this.c.chainAdvances.deleteOne({ _id });
  }

  /**
   * Chains whose advance was interrupted: the markers `finishRank` leaves when it does not get
   * to the end. Only markers older than `olderThan`, so an advance still in flight is not taken
   * over (and its marker not removed before its write lands). Returns how many chains moved.
   */
  async advanceStalledChains(olderThan: Date, batch: number): Promise<number> {
    const markers = (await this.c.chainAdvances.find({}).limit(batch).toArray()).filter((m) => m.at.getTime() < olderThan.getTime());
    const chains = new Map(markers.map((m) => [`${m.problem}/${m.algo}`, m]));
    let advanced = 0;
    for (const chain of chains.values()) if (await this.advanceChainOf(chain)) advanced++;
    for (const m of markers) await this.c.chainAdvances.deleteOne({ _id: m._id });
    return advanced;
  }

  async advanceChainOf(learnuplet: Pick<LearnupletDoc, 'problem' | 'algo'>): Promise<boolean> {
    const problem = await this.c.problems.findOne({ _id: learnuplet.problem });
    return problem ? this.advanceChain(problem, learnuplet.algo) : false;
  }
}

/** The first missing position at or after `from`, given that `from - 1` exists (or from is 0). */
export async function firstMissing(from: number, exists: (pos: number) => Promise<boolean>): Promise<number> {
  if (!(await exists(from))) return from;
  let lo = from;
  let step = 1;
  let hi = lo + step;
  while (await exists(hi)) {
    lo = hi;
    step *= 2;
    hi = lo + step;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await exists(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The largest key, without spreading (a post may place 10,000+ entries). */
function lastKey(placed: ReadonlyMap<number, string>): number {
  let last = -1;
  for (const k of placed.keys()) if (k > last) last = k;
  return last;
}
