import { signCapability } from '../../shared/auth/capability-token';
import { predictionBlobUuid } from '../../shared/contracts/blob-contract';
import type { LearnupletDoc, PredupletDoc, TaskKind } from '../domain/documents';
import type { Collections } from '../persistence/collections';

/** What one lease's capability opens (`reads`) and authorises (`writes`), as `<kind>/<uuid>`. */
export interface TaskBlobs {
  reads: string[];
  writes: string[];
}

/**
 * The data a learnuplet's task may read: only data whose owner has put it to that use. Train
 * data qualifies by construction (minibatches are cut only from data its provider registered
 * to the problem); a test item only once its provider registered it to the problem (naming it
 * in `test_dataset` is not enough, or an organizer could open anyone's data). It writes its
 * `model_end` and nothing else. One equality lookup per item: `$in` scans on FerretDB.
 */
export async function learnupletBlobs(c: Collections, l: LearnupletDoc): Promise<TaskBlobs> {
  const train = new Set(l.train_data);
  const tests = [...new Set(l.test_data)].filter((d) => !train.has(d));
  const registered = await Promise.all(tests.map((d) => c.datas.findOne({ _id: d, problems: l.problem }, { projection: { _id: 1 } })));
  const data = [...train, ...tests.filter((_, i) => registered[i] !== null)];
  return { reads: data.map((uuid) => `data/${uuid}`), writes: [`model/${l.model_end}`] };
}

/** A preduplet reads its item only if its requester owns it, and writes its attempt's prediction blob. */
export async function predupletBlobs(c: Collections, p: PredupletDoc, attempt: number): Promise<TaskBlobs> {
  const owned = await c.datas.findOne({ _id: p.data, owner: p.owner }, { projection: { _id: 1 } });
  return { reads: owned ? [`data/${p.data}`] : [], writes: [`prediction/${predictionBlobUuid(p.uuid, attempt)}`] };
}

/** The lease a capability is signed for. */
export interface CapabilityLease {
  uplet: string;
  kind: TaskKind;
  attempt: number;
  principal: string;
  expires_at: Date;
  reads?: string[];
  writes?: string[];
}

export type CapabilityIssuer = (lease: CapabilityLease) => string;

/**
 * Signs a lease's capability. It expires with the lease (never later than
 * `maxSeconds` from now): the gateway cannot see leases, so a capability must
 * not outlive the one it was issued for; heartbeats hand out fresh ones.
 */
export function capabilityIssuer(secret: string, maxSeconds: number): CapabilityIssuer {
  return (lease) => signCapability({
    sub: lease.principal, uplet: lease.uplet, kind: lease.kind, attempt: lease.attempt,
    blobs: lease.reads ?? [], writes: lease.writes ?? [],
    exp: Math.min(Math.floor(lease.expires_at.getTime() / 1000), Math.floor(Date.now() / 1000) + maxSeconds),
  }, secret);
}
