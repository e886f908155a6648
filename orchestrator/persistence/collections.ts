import type { Collection, Db, OptionalUnlessRequiredId } from 'mongodb';
import type { AlgoDoc, DataDoc, LearnupletDoc, MinibatchDoc, PredupletDoc, ProblemDoc, TaskKind } from '../domain/documents';
import type {
  DatasetDoc,
  EngineModelDoc,
  FinalTaskDoc,
  JobDoc,
  JobFenceDoc,
  JobProfileDoc,
  ProfileTaskDoc,
  SynthesizeTaskDoc,
  TeachTaskDoc,
  TrialDoc,
  TrialRoundDoc,
} from '../training/engine-documents';
import type { AkkioKeyDoc, AkkioTaskDoc } from '../training/akkio';

/** A claim of one attempt: inserted once (its `_id` is `<uplet>/<attempt>`); only heartbeats update it. */
export interface LeaseDoc {
  _id: string;
  uplet: string;
  kind: TaskKind;
  attempt: number;
  token: string;
  worker: string;
  principal: string;
  claimed_at: Date;
  expires_at: Date;
  /**
   * Minute of expires_at: the reaper reads due minutes by equality, never a
   * range over all leases. Absent on a cancellation tombstone, which never expires.
   */
  expiry_minute?: number;
  /** What this lease's capability opens and authorises (`<kind>/<uuid>`), fixed at the claim and re-signed by heartbeats. */
  reads?: string[];
  writes?: string[];
  /** The site the task runs at, and the reads its capability opens at other sites' gateways (test data). */
  site?: string;
  anywhere?: string[];
  /** On a cancellation tombstone: the cancellation's reason, for whoever finishes a cancellation that died before its settlement. */
  cancel_reason?: string;
}

/** How an attempt ended: inserted once, by the report or by the reaper, whichever comes first. */
export interface SettlementDoc {
  _id: string;
  uplet: string;
  kind: TaskKind;
  attempt: number;
  by: 'report' | 'expiry' | 'release' | 'cancel';
  status: 'done' | 'failed' | 'expired' | 'released' | 'canceled';
  /** The report body as received, to answer an identical duplicate idempotently. */
  result: Record<string, unknown> | null;
  settled_at: Date;
}

/** When the dispatcher last published an uplet; kept apart so it never rewrites an uplet. */
export interface DispatchDoc {
  _id: string;
  kind: TaskKind;
  published_at: Date;
}

/**
 * Data `data` joined problem `problem` after its creation (a re-post): inserted
 * once, `_id` `<problem>/<data>`. The problems a data item was created with need
 * no such fence: its own insert was theirs.
 */
export interface MembershipDoc {
  _id: string;
  problem: string;
  data: string;
  joined_at: Date;
}

/**
 * A problem's train data in registration order: position `pos` holds `data`,
 * `_id` `<problem>#<pos>` (an insert fence, so two posts never take one position
 * and positions stay a gap-free prefix). Minibatch k is positions
 * [k·size, (k+1)·size), found by the equality `batch: '<problem>/<k>'`.
 */
export interface TrainLogDoc {
  _id: string;
  problem: string;
  /** Each site has its own log (`_id` `<problem>@<site>#<pos>`; `<problem>#<pos>` at `default`). */
  site?: string;
  pos: number;
  data: string;
  batch: string;
}

/**
 * Hints, never the truth: where a problem's train log ends and the first
 * minibatch whose learnuplets may be missing; the reaper's oldest undone
 * minute. Written best-effort; readers probe forward from them by `_id`.
 */
export interface CursorDoc {
  _id: string;
  next_pos?: number;
  next_batch?: number;
  minute?: number;
}

/**
 * A chain that must be advanced: inserted before a rank is recorded done or
 * failed, deleted after its chain was advanced. What a crash in between leaves
 * is what the sweeper advances, so it never reads the waiting learnuplets.
 */
export interface ChainAdvanceDoc {
  _id: string;
  problem: string;
  algo: string;
  at: Date;
}

/** When a compute agent of a site was last seen (ping or claim), `_id` `<site>/<name>`; never written on task documents. */
export interface AgentSeenDoc {
  _id: string;
  site: string;
  name: string;
  principal: string;
  last_seen: Date;
}

export interface Collections {
  problems: Collection<ProblemDoc>;
  algos: Collection<AlgoDoc>;
  datas: Collection<DataDoc>;
  minibatches: Collection<MinibatchDoc>;
  learnuplets: Collection<LearnupletDoc>;
  preduplets: Collection<PredupletDoc>;
  leases: Collection<LeaseDoc>;
  settlements: Collection<SettlementDoc>;
  dispatches: Collection<DispatchDoc>;
  memberships: Collection<MembershipDoc>;
  trainLog: Collection<TrainLogDoc>;
  cursors: Collection<CursorDoc>;
  chainAdvances: Collection<ChainAdvanceDoc>;
  // The training engine's (orchestrator/training/engine-documents.ts).
  datasets: Collection<DatasetDoc>;
  profileTasks: Collection<ProfileTaskDoc>;
  trials: Collection<TrialDoc>;
  /** Each round's propose history, once (its trials reference it): a trial's size stays flat as its study grows. */
  trialRounds: Collection<TrialRoundDoc>;
  finalTasks: Collection<FinalTaskDoc>;
  synthesizeTasks: Collection<SynthesizeTaskDoc>;
  teachTasks: Collection<TeachTaskDoc>;
  jobs: Collection<JobDoc>;
  jobFences: Collection<JobFenceDoc>;
  /** Each job's dataset profile, apart from the job (see JobDoc.profile). */
  jobProfiles: Collection<JobProfileDoc>;
  models: Collection<EngineModelDoc>;
  agents: Collection<AgentSeenDoc>;
  // The Akkio front door's (orchestrator/training/akkio.ts).
  akkioTasks: Collection<AkkioTaskDoc>;
  akkioKeys: Collection<AkkioKeyDoc>;
}

export function collectionsOf(db: Db): Collections {
  return {
    problems: db.collection('problems'),
    algos: db.collection('algos'),
    datas: db.collection('datas'),
    minibatches: db.collection('minibatches'),
    learnuplets: db.collection('learnuplets'),
    preduplets: db.collection('preduplets'),
    leases: db.collection('leases'),
    settlements: db.collection('settlements'),
    dispatches: db.collection('dispatches'),
    memberships: db.collection('memberships'),
    trainLog: db.collection('train_log'),
    cursors: db.collection('cursors'),
    chainAdvances: db.collection('chain_advances'),
    datasets: db.collection('datasets'),
    profileTasks: db.collection('profile_tasks'),
    trials: db.collection('trials'),
    trialRounds: db.collection('trial_rounds'),
    finalTasks: db.collection('final_tasks'),
    synthesizeTasks: db.collection('synthesize_tasks'),
    teachTasks: db.collection('teach_tasks'),
    jobs: db.collection('jobs'),
    jobFences: db.collection('job_fences'),
    jobProfiles: db.collection('job_profiles'),
    models: db.collection('models'),
    agents: db.collection('agents'),
    akkioTasks: db.collection('akkio_tasks'),
    akkioKeys: db.collection('akkio_keys'),
  };
}

/** Indexes serve MongoDB; FerretDB creates them but still scans (see README). */
export async function ensureIndexes(c: Collections): Promise<void> {
  await Promise.all([
    c.algos.createIndex({ problem: 1 }),
    c.datas.createIndex({ problems: 1, timestamp_upload: 1, upload_index: 1 }),
    c.minibatches.createIndex({ problem: 1, index: 1 }),
    c.learnuplets.createIndex({ problem: 1, algo: 1, rank: 1 }),
    c.learnuplets.createIndex({ status: 1, timestamp_todo: 1 }),
    c.preduplets.createIndex({ status: 1, timestamp_todo: 1 }),
    c.leases.createIndex({ expiry_minute: 1 }),
    c.trainLog.createIndex({ batch: 1 }),
    c.datasets.createIndex({ owner: 1, timestamp_upload: 1 }),
    c.trials.createIndex({ job: 1 }),
    c.trialRounds.createIndex({ job: 1, row: 1, round: 1 }),
    c.jobs.createIndex({ status: 1 }),
    c.akkioTasks.createIndex({ submitted: 1 }),
    // One minibatch per site batch: the fence that places a site's j-th batch at exactly one rank.
    c.minibatches.createIndex({ site_batch: 1 }, { unique: true }),
  ]);
}

/** Runs `work` on every item, at most `limit` at a time (equality lookups instead of one `$in` scan). */
export async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!, i);
      }
    }),
  );
  return out;
}

/** How many equality lookups one request or job keeps in flight: well under a test pool's size. */
export const LOOKUP_CONCURRENCY = 4;

export function isDuplicateKey(err: unknown): boolean {
  return (err as { code?: number })?.code === 11000;
}

/** For insertMany(ordered: false): true when every failure is a duplicate key (the documents were there already). */
export function onlyDuplicateKeys(err: unknown): boolean {
  const writeErrors = (err as { writeErrors?: Array<{ code?: number }> | { code?: number } })?.writeErrors;
  if (writeErrors === undefined) return isDuplicateKey(err);
  const list = Array.isArray(writeErrors) ? writeErrors : [writeErrors];
  return list.every((e) => e.code === 11000);
}

/** For insertMany(ordered: false): the positions of the documents that already existed. */
export function duplicateIndexes(err: unknown): number[] {
  const writeErrors = (err as { writeErrors?: Array<{ index: number; code?: number }> | { index: number; code?: number } })?.writeErrors;
  const list = writeErrors === undefined ? [] : Array.isArray(writeErrors) ? writeErrors : [writeErrors];
  return list.filter((e) => e.code === 11000).map((e) => e.index);
}

/** Below this many documents per chunk an unordered insert stays one command (small posts make no more commands than before). */
const MIN_INSERT_CHUNK = 1_000;

/**
 * An unordered insertMany, sent as up to `concurrency` chunks side by side: FerretDB inserts a
 * batch on one PostgreSQL connection, one row after another, so 10,000 learnuplets in one
 * command use one core (2.2–2.3 s here) where four chunks use both (1.35–1.7 s). Every insert
 * is still its own fence; returns the positions in `docs` of those whose `_id` existed already.
 * Waits for every chunk before it throws anything but a duplicate key.
 */
export async function insertUnordered<T extends { _id: string }>(
  collection: Collection<T>,
  docs: readonly T[],
  concurrency = LOOKUP_CONCURRENCY,
): Promise<number[]> {
  if (docs.length === 0) return [];
  const size = Math.max(MIN_INSERT_CHUNK, Math.ceil(docs.length / concurrency));
  const chunks = Array.from({ length: Math.ceil(docs.length / size) }, (_, i) => i * size);
  const results = await Promise.allSettled(
    chunks.map((start) => collection.insertMany(docs.slice(start, start + size) as unknown as OptionalUnlessRequiredId<T>[], { ordered: false })),
  );
  const existed: number[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    if (!onlyDuplicateKeys(r.reason)) throw r.reason;
    for (const at of duplicateIndexes(r.reason)) existed.push(chunks[i]! + at);
  });
  return existed;
}
