import type { Collection, Db } from 'mongodb';
import type { AlgoDoc, DataDoc, LearnupletDoc, MinibatchDoc, PredupletDoc, ProblemDoc, UpletKind } from '../domain/documents';

/** A claim of one attempt: inserted once (its `_id` is `<uplet>/<attempt>`); only heartbeats update it. */
export interface LeaseDoc {
  _id: string;
  uplet: string;
  kind: UpletKind;
  attempt: number;
  token: string;
  worker: string;
  principal: string;
  claimed_at: Date;
  expires_at: Date;
  /** What this lease's capability opens and authorises (`<kind>/<uuid>`), fixed at the claim and re-signed by heartbeats. */
  reads?: string[];
  writes?: string[];
}

/** How an attempt ended: inserted once, by the report or by the reaper, whichever comes first. */
export interface SettlementDoc {
  _id: string;
  uplet: string;
  kind: UpletKind;
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
  kind: UpletKind;
  published_at: Date;
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
    c.leases.createIndex({ expires_at: 1 }),
  ]);
}

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
