import { signCapability } from '../../shared/auth/capability-token';
import { predictionBlobUuid } from '../../shared/contracts/blob-contract';
import type { LearnupletDoc, PredupletDoc, TaskKind } from '../domain/documents';
import type { Collections } from '../persistence/collections';
import { DEFAULT_SITE, siteOf } from '../../shared/contracts/sites';

/** What one lease's capability opens (`reads`) and authorises (`writes`), as `<kind>/<uuid>`. */
export interface TaskBlobs {
  reads: string[];
  writes: string[];
  /** The site the task runs at (its capability names it: a gateway serves its data only to its own site's tasks). */
  site?: string;
  /** Reads a gateway may serve to a task of another site: the problem's test data (the organizer's evaluation set). */
  anywhere?: string[];
  /** The site holding each blob the task reads or writes (`<kind>/<uuid>` → site); the claim answer turns them into gateway URLs. */
  locations?: Record<string, string>;
}

/**
 * The sites of algos and problems (the code a task runs), remembered once read: both are
 * written once at registration and never moved or deleted (cancellation only stamps them), so
 * a remembered site cannot go stale, and a claim skips two reads. Absent documents are not
 * remembered. Bounded: cleared when it outgrows `limit`.
 */
export class CodeSites {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly c: Collections,
    private readonly limit = 10_000,
  ) {}

  /** `algo/<uuid>` and `workflow/<workflow>` → the site of the algo and of the problem. */
  async locations(problem: string, algo: string, workflow: string): Promise<Record<string, string>> {
    const [algoSite, problemSite] = await Promise.all([this.siteOf('algos', algo), this.siteOf('problems', problem)]);
    return { [`algo/${algo}`]: algoSite, [`workflow/${workflow}`]: problemSite };
  }

  /** The site of an algo or problem this replica has just inserted: its first claims need not read it back. */
  remember(collection: 'algos' | 'problems', uuid: string, site: string): void {
    if (this.known.size >= this.limit) this.known.clear();
    this.known.set(`${collection}/${uuid}`, site);
  }

  private async siteOf(collection: 'algos' | 'problems', uuid: string): Promise<string> {
    const known = this.known.get(`${collection}/${uuid}`);
    if (known !== undefined) return known;
    const doc = await (this.c[collection] as Collections['algos']).findOne({ _id: uuid }, { projection: { site: 1 } });
    if (doc) this.remember(collection, uuid, siteOf(doc));
    return siteOf(doc);
  }
}

/**
 * The data a learnuplet's task may read: only data whose owner has put it to that use. Train
 * data qualifies by construction (minibatches are cut only from data its provider registered
 * to the problem); a test item only once its provider registered it to the problem (naming it
 * in `test_dataset` is not enough, or an organizer could open anyone's data). It writes its
 * `model_end` and nothing else. One equality lookup per item: `$in` scans on FerretDB.
 */
export async function learnupletBlobs(c: Collections, l: LearnupletDoc, code: CodeSites = new CodeSites(c)): Promise<TaskBlobs> {
  const train = new Set(l.train_data);
  const tests = [...new Set(l.test_data)].filter((d) => !train.has(d));
  // Three independent reads side by side: each is a database round trip between a todo and its claim.
  const modelStart = l.model_start && l.model_start !== l.algo ? l.model_start : null;
  const [registered, codeLocations, writer] = await Promise.all([
    Promise.all(tests.map((d) => c.datas.findOne({ _id: d, problems: l.problem }, { projection: { _id: 1, site: 1 } }))),
    code.locations(l.problem, l.algo, l.workflow),
    // The model it starts from is at the site of the rank that wrote it (recorded on that learnuplet).
    modelStart ? c.learnuplets.findOne({ problem: l.problem, algo: l.algo, model_end: modelStart }, { projection: { site: 1 } }) : null,
  ]);
  const site = siteOf(l);
  const readable = tests.flatMap((d, i) => (registered[i] ? [{ uuid: d, site: siteOf(registered[i]) }] : []));
  const data = [...train, ...readable.map((t) => t.uuid)];
  const locations: Record<string, string> = { ...codeLocations, [`model/${l.model_end}`]: site };
  for (const d of train) locations[`data/${d}`] = site;
  for (const t of readable) locations[`data/${t.uuid}`] = t.site;
  if (modelStart) locations[`model/${modelStart}`] = siteOf(writer);
  return {
    reads: data.map((uuid) => `data/${uuid}`),
    writes: [`model/${l.model_end}`],
    site,
    anywhere: readable.filter((t) => t.site !== site).map((t) => `data/${t.uuid}`),
    locations,
  };
}

/** A preduplet reads its item only if its requester owns it, and writes its attempt's prediction blob. */
export async function predupletBlobs(c: Collections, p: PredupletDoc, attempt: number, code: CodeSites = new CodeSites(c)): Promise<TaskBlobs> {
  // Ownership is read at every claim: a data document can go (a failed registration removes what it created).
  const [owned, codeLocations] = await Promise.all([
    c.datas.findOne({ _id: p.data, owner: p.owner }, { projection: { _id: 1 } }),
    code.locations(p.problem, p.algo, p.workflow),
  ]);
  const site = siteOf(p);
  const prediction = `prediction/${predictionBlobUuid(p.uuid, attempt)}`;
  const locations: Record<string, string> = {
    ...codeLocations,
    [`data/${p.data}`]: site,
    [`model/${p.model}`]: p.model_site ?? DEFAULT_SITE,
    [prediction]: site,
  };
  return { reads: owned ? [`data/${p.data}`] : [], writes: [prediction], site, anywhere: [], locations };
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
  site?: string;
  anywhere?: string[];
}

export type CapabilityIssuer = (lease: CapabilityLease) => string;

/**
 * Signs a lease's capability. It expires with the lease (never later than
 * `maxSeconds` from now): the gateway cannot see leases, so a capability must
 * not outlive the one it was issued for; heartbeats hand out fresh ones.
 */
export function capabilityIssuer(secret: string, maxSeconds: number): CapabilityIssuer {
  return (lease) =>
    signCapability(
      {
        sub: lease.principal,
        uplet: lease.uplet,
        kind: lease.kind,
        attempt: lease.attempt,
        blobs: lease.reads ?? [],
        writes: lease.writes ?? [],
        // The site the task runs at: a gateway serves data only to its own site's tasks, `anywhere` excepted (test data).
        site: lease.site ?? DEFAULT_SITE,
        ...(lease.anywhere && lease.anywhere.length > 0 ? { anywhere: lease.anywhere } : {}),
        exp: Math.min(Math.floor(lease.expires_at.getTime() / 1000), Math.floor(Date.now() / 1000) + maxSeconds),
      },
      secret,
    );
}
