import { signCapability } from '../../shared/auth/capability-token';
import { predictionBlobUuid } from '../../shared/contracts/blob-contract';
import type { LearnupletDoc, PredupletDoc, UpletDoc, UpletKind } from '../domain/documents';
import type { Collections } from '../persistence/collections';

/** What one lease's capability opens (`reads`) and authorises (`writes`), as `<kind>/<uuid>`. */
export interface TaskBlobs {
  reads: string[];
  writes: string[];
}

/** The outputs attempt `attempt` of an uplet writes: nothing else may be written with its capability. */
export function outputBlobsOf(kind: UpletKind, uplet: UpletDoc, attempt: number): string[] {
  return kind === 'learnuplet'
    ? [`model/${(uplet as LearnupletDoc).model_end}`]
    : [`prediction/${predictionBlobUuid(uplet.uuid, attempt)}`];
}

/**
 * The data an uplet's task may read: only data whose owner has put it to that
 * use. Train data qualifies by construction (minibatches are cut only from data
 * its provider registered to the problem); a test item only once its provider
 * registered it to the problem (naming it in `test_dataset` is not enough, or an
 * organizer could open anyone's data); a prediction's item only if the
 * preduplet's requester owns it. One equality lookup per item: `$in` scans on FerretDB.
 */
export async function taskBlobsOf(c: Collections, kind: UpletKind, uplet: UpletDoc, attempt: number): Promise<TaskBlobs> {
  let data: string[];
  if (kind === 'learnuplet') {
    const l = uplet as LearnupletDoc;
    const train = new Set(l.train_data);
    const tests = [...new Set(l.test_data)].filter((d) => !train.has(d));
    const registered = await Promise.all(tests.map((d) => c.datas.findOne({ _id: d, problems: l.problem }, { projection: { _id: 1 } })));
    data = [...train, ...tests.filter((_, i) => registered[i] !== null)];
  } else {
    const p = uplet as PredupletDoc;
    const owned = await c.datas.findOne({ _id: p.data, owner: p.owner }, { projection: { _id: 1 } });
    data = owned ? [p.data] : [];
  }
  return { reads: data.map((uuid) => `data/${uuid}`), writes: outputBlobsOf(kind, uplet, attempt) };
}

/** The lease a capability is signed for. */
export interface CapabilityLease {
  uplet: string;
  kind: UpletKind;
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
