import crypto from 'node:crypto';
import type { Principal } from '../../shared/auth/api-keys';
import type { Collection } from 'mongodb';
import { ConflictError, ForbiddenError, UnprocessableError } from '../../shared/errors/uplet-error';
import { bestDoneLink } from '../domain/chain-rules';
import type { AlgoDoc, DataDoc, MetricDirection, PredupletDoc, ProblemDoc } from '../domain/documents';
import { membershipId, predupletUuid } from '../domain/uplet-ids';
import { insertUnordered, isDuplicateKey, LOOKUP_CONCURRENCY, mapBounded, type Collections, type MembershipDoc } from '../persistence/collections';
import type { WorkDispatcher } from './work-dispatcher';
import type { ChainKeeper } from './chain-keeper';
import type { Sites } from './sites';
import type { CodeSites } from './task-capabilities';
import { DEFAULT_SITE, siteOf } from '../../shared/contracts/sites';
import { SiteForbiddenError } from '../../shared/errors/uplet-error';

export interface NewProblem {
  uuid: string;
  workflow: string;
  test_dataset: string[];
  size_train_dataset: number;
  metric_direction: MetricDirection;
  site?: string;
}

export interface NewAlgo {
  uuid: string;
  name: string;
  problem: string;
  site?: string;
}

export interface NewData {
  uuids: string[];
  problems: string[];
  /** The site whose gateway holds the data (default `default`). */
  site?: string;
}

export interface PostedData {
  /** Data created by this call (not those it only added problems to). */
  datas: DataDoc[];
  newLearnuplets: number;
  /** False when the call added nothing at all (the same data and problems again). */
  changed: boolean;
}

export interface NewPrediction {
  data: string[];
  problem: string;
}

/** What organizers, algo authors and data providers post; each post extends the chains it touches. */
export class Registration {
  constructor(
    private readonly c: Collections,
    private readonly chains: ChainKeeper,
    private readonly dispatcher: WorkDispatcher,
    private readonly sites?: Sites,
    /** The claims' cache of code sites (the claim table's): told the site of each algo and problem inserted here. */
    private readonly codeSites?: CodeSites,
  ) {}

  /** A site named in a request must be configured (422 naming the field), and the key's own when it is bound to one (403). */
  private requireSite(site: string | undefined, principal: Principal, field = 'site'): string {
    const name = site ?? principal.site ?? DEFAULT_SITE;
    const known = this.sites ? this.sites.has(name) : name === DEFAULT_SITE;
    if (!known) {
      throw new UnprocessableError(`site ${name} is not a site of this deployment (it has no storage gateway configured; see GET /sites)`, {
        code: 'UNKNOWN_SITE',
        details: { where: 'body', field, site: name },
      });
    }
    if (principal.site !== undefined && principal.site !== name) {
      throw new SiteForbiddenError(`your key is bound to site ${principal.site}: it may not register at site ${name}`, {
        code: 'SITE_NOT_ALLOWED',
        details: { where: 'body', field, site: name },
      });
    }
    return name;
  }

  async postProblem(input: NewProblem, owner: Principal): Promise<ProblemDoc> {
    if (input.site !== undefined) this.requireSite(input.site, { ...owner, site: undefined });
    const doc: ProblemDoc = { _id: input.uuid, ...input, owner: owner.name, timestamp_upload: new Date() };
    await insertOnce(() => this.c.problems.insertOne(doc), 'problem', input.uuid);
    this.codeSites?.remember('problems', doc._id, siteOf(doc));
    return doc;
  }

  async postAlgo(input: NewAlgo, owner: Principal): Promise<{ algo: AlgoDoc; newLearnuplets: number }> {
    if (input.site !== undefined) this.requireSite(input.site, { ...owner, site: undefined });
    const problem = requireNotCanceled(await this.requireProblem(input.problem, 'problem'));
    const doc: AlgoDoc = { _id: input.uuid, ...input, owner: owner.name, timestamp_upload: new Date() };
    await insertOnce(() => this.c.algos.insertOne(doc), 'algo', input.uuid);
    this.codeSites?.remember('algos', doc._id, siteOf(doc));
    return { algo: doc, newLearnuplets: await this.chains.extendForAlgo(problem, doc) };
  }

  /**
   * Registers data, or adds problems to data its owner registered before. Each
   * item's outcome is decided by its own insert (no pre-check read that a
   * concurrent post could invalidate): it is created here, or it existed and
   * this is a re-post. Every join of a data item to a problem is then appended
   * to that problem's train log, so the chains are extended for all of it.
   */
  async postData(input: NewData, owner: Principal): Promise<PostedData> {
    const site = this.requireSite(input.site, owner);
    const problems = await Promise.all(input.problems.map((p, i) => this.requireProblem(p, input.problems.length > 1 ? `problems.${i}` : 'problems')));
    const now = new Date();
    const docs: DataDoc[] = input.uuids.map((uuid, upload_index) => ({
      _id: uuid,
      uuid,
      problems: input.problems,
      owner: owner.name,
      timestamp_upload: now,
      upload_index,
      site,
    }));
    const existed = new Set(await insertEach(this.c.datas, docs));
    const created = docs.filter((_, i) => !existed.has(i));
    const reposted = docs.filter((_, i) => existed.has(i)).map((d) => d.uuid);

    const current = await mapBounded(reposted, LOOKUP_CONCURRENCY, (uuid) =>
      this.c.datas.findOne({ _id: uuid }, { projection: { owner: 1, problems: 1, site: 1 } }),
    );
    const foreign = reposted.filter((_, i) => current[i]?.owner !== owner.name);
    if (foreign.length > 0) {
      // Nothing stays of a refused call: its new documents are not in any train log yet.
      await this.removeCreated(created);
      throw new ForbiddenError(
        `data ${listed(foreign)} ${foreign.length === 1 ? 'is' : 'are'} registered by another provider: only its owner may add problems to it`,
        {
          details: { where: 'body', field: 'uuid', uuids: foreign.slice(0, 20) },
        },
      );
    }

    // A re-post joins the problems the data is not in yet; the membership insert is the fence.
    const joins: MembershipDoc[] = [];
    reposted.forEach((uuid, i) => {
      for (const p of input.problems) if (!current[i]!.problems.includes(p)) joins.push({ _id: membershipId(p, uuid), problem: p, data: uuid, joined_at: now });
    });
    const lostJoins = new Set(await insertEach(this.c.memberships, joins));
    const joined = joins.filter((_, i) => !lostJoins.has(i));
    if (joins.length > 0) {
      // The data's `problems` is what users read; a lost concurrent rewrite is healed by the next re-post.
      await this.c.datas.bulkWrite(
        joins.map((j) => ({ updateOne: { filter: { _id: j.data }, update: { $addToSet: { problems: j.problem } } } })),
        { ordered: false },
      );
    }

    const createdIds = new Set(created.map((d) => d.uuid));
    const joinedPairs = new Set(joined.map((j) => j._id));
    // A re-posted item stays at the site it was registered at: its train data joins that site's log.
    const siteOfItem = new Map<string, string>(reposted.map((uuid, i) => [uuid, siteOf(current[i])]));
    let newLearnuplets = 0;
    for (const problem of problems) {
      // Registration order inside the request, whether an item was created or joined; one log per site.
      const train = input.uuids.filter((u) => createdIds.has(u) || joinedPairs.has(membershipId(problem.uuid, u)));
      const bySite = new Map<string, string[]>();
      for (const u of train) {
        const s = siteOfItem.get(u) ?? site;
        {
          const list = bySite.get(s);
          if (list) list.push(u);
          else bySite.set(s, [u]);
        }
      }
      for (const [s, items] of bySite) newLearnuplets += await this.chains.addTrainData(problem, items, s);
    }
    return { datas: created, newLearnuplets, changed: created.length > 0 || joined.length > 0 };
  }

  private async removeCreated(created: readonly DataDoc[]): Promise<void> {
    if (created.length === 0) return;
    await this.c.datas.bulkWrite(
      created.map((d) => ({ deleteOne: { filter: { _id: d._id } } })),
      { ordered: false },
    );
  }

  /**
   * One preduplet per data item, on the problem's best model so far. Only data
   * the requester registered may be named: the claim's capability opens it, so
   * naming someone else's data would open it to any compute node. Unknown or
   * foreign data is refused before anything is written.
   */
  async requestPrediction(input: NewPrediction, requester: Principal): Promise<PredupletDoc[]> {
    const problem = requireNotCanceled(await this.requireProblem(input.problem, 'problem'));
    const done = await this.c.learnuplets.find({ problem: problem.uuid, status: 'done' }).toArray();
    const best = bestDoneLink(done, problem.metric_direction);
    if (!best) {
      throw new UnprocessableError(`problem ${problem.uuid} has no trained model yet: no learnuplet of it is done`, {
        code: 'NO_TRAINED_MODEL',
        details: { where: 'body', field: 'problem' },
      });
    }
    // One equality lookup per item, a few at a time: `$in` scans on FerretDB, and 1,000 at once would queue on the pool.
    const found = await mapBounded(input.data, LOOKUP_CONCURRENCY, (uuid) => this.c.datas.findOne({ _id: uuid }, { projection: { owner: 1, site: 1 } }));
    const unknownAt = found.flatMap((doc, i) => (doc === null ? [i] : []));
    if (unknownAt.length > 0) {
      const unknown = unknownAt.map((i) => input.data[i]!);
      // `fields` gives their positions, as DATA_NOT_YOURS names its field, for clients that point at the item.
      throw new UnprocessableError(`${unknown.length} data item(s) are not registered (POST /data): ${listed(unknown)}`, {
        code: 'UNKNOWN_DATA',
        details: {
          where: 'body',
          field: 'data',
          uuids: unknown.slice(0, 20),
          count: unknown.length,
          fields: unknownAt.slice(0, 20).map((i) => (input.data.length > 1 ? `data.${i}` : 'data')),
        },
      });
    }
    const refused = found.flatMap((doc, i) => (doc!.owner === requester.name ? [] : [i]));
    if (refused.length > 0) {
      const field = input.data.length > 1 ? `data.${refused[0]}` : 'data';
      throw new UnprocessableError(
        `predictions may be requested only on data you registered (POST /data); not yours: ${refused
          .slice(0, 10)
          .map((i) => input.data[i])
          .join(', ')}`,
        {
          code: 'DATA_NOT_YOURS',
          details: { where: 'body', field, items: refused.slice(0, 100).map((i) => input.data[i]) },
        },
      );
    }
    const requestId = crypto.randomUUID();
    const now = new Date();
    const docs: PredupletDoc[] = input.data.map((data, i) => {
      const uuid = predupletUuid(requestId, data);
      return {
        // It runs at the site that holds the data to predict; the model comes from the site that wrote it.
        _id: uuid,
        uuid,
        problem: problem.uuid,
        workflow: problem.workflow,
        data,
        model: best.model_end,
        algo: best.algo,
        learnuplet: best.uuid,
        site: siteOf(found[i]),
        model_site: siteOf(best),
        owner: requester.name,
        status: 'todo',
        worker: null,
        attempt: 0,
        failure_reason: null,
        prediction_storage_uuid: null,
        timestamp_request: now,
        timestamp_todo: now,
        timestamp_claimed: null,
        timestamp_done: null,
      };
    });
    await this.c.preduplets.insertMany(docs, { ordered: false });
    await this.dispatchBySite(docs);
    return docs;
  }

  /**
   * One preduplet per data item with a training-engine model (`POST /prediction {data, model}`):
   * the agent runs the engine's `predict` on the model blob. Only a model the requester owns,
   * only data the requester registered (422 otherwise, before anything is written).
   */
  async requestModelPrediction(input: { data: string[]; model: string }, requester: Principal): Promise<PredupletDoc[]> {
    const model = await this.c.models.findOne({ _id: input.model });
    if (!model || model.owner !== requester.name) {
      throw new UnprocessableError(`model ${input.model} does not exist`, { code: 'UNKNOWN_MODEL', details: { where: 'body', field: 'model' } });
    }
    const found = await mapBounded(input.data, LOOKUP_CONCURRENCY, (uuid) => this.c.datas.findOne({ _id: uuid }));
    const refused = found.flatMap((doc, i) => (doc && doc.owner === requester.name ? [] : [i]));
    if (refused.length > 0) {
      throw new UnprocessableError(
        `predictions may be requested only on data you registered (POST /data); not yours or unknown: ${refused
          .slice(0, 10)
          .map((i) => input.data[i])
          .join(', ')}`,
        {
          code: 'DATA_NOT_YOURS',
          details: { where: 'body', field: input.data.length > 1 ? `data.${refused[0]}` : 'data' },
        },
      );
    }
    const requestId = crypto.randomUUID();
    const now = new Date();
    const docs: PredupletDoc[] = input.data.map((data, i) => {
      const uuid = predupletUuid(requestId, data);
      return {
        // No problem, workflow or learnuplet: the job, the engine and the best trial stand in their place.
        _id: uuid,
        uuid,
        problem: model.job,
        workflow: 'uplet-training-engine',
        data,
        model: model.model_storage_uuid,
        algo: model.family,
        learnuplet: model.best_trial,
        engine_model: model.model_id,
        site: siteOf(found[i]),
        model_site: model.site,
        owner: requester.name,
        status: 'todo',
        worker: null,
        attempt: 0,
        failure_reason: null,
        prediction_storage_uuid: null,
        timestamp_request: now,
        timestamp_todo: now,
        timestamp_claimed: null,
        timestamp_done: null,
      };
    });
    await this.c.preduplets.insertMany(docs, { ordered: false });
    await this.dispatchBySite(docs);
    return docs;
  }

  /** One dispatch per site: its messages are published together and their confirms awaited once, not one round each. */
  private async dispatchBySite(docs: readonly PredupletDoc[]): Promise<void> {
    const bySite = new Map<string, PredupletDoc[]>();
    for (const d of docs) {
      const list = bySite.get(siteOf(d));
      if (list) list.push(d);
      else bySite.set(siteOf(d), [d]);
    }
    for (const [s, written] of bySite)
      await this.dispatcher.dispatch(
        'preduplet',
        written.map((d) => d.uuid),
        s,
        { written },
      );
  }

  private async requireProblem(uuid: string, field: string): Promise<ProblemDoc> {
    const problem = await this.c.problems.findOne({ _id: uuid });
    if (!problem) throw new UnprocessableError(`problem ${uuid} does not exist`, { code: 'UNKNOWN_PROBLEM', details: { where: 'body', field } });
    return problem;
  }
}

/** The first 20 ids, for a message that names what it refuses without growing with the request. */
function listed(ids: readonly string[]): string {
  return ids.length > 20 ? `${ids.slice(0, 20).join(', ')} and ${ids.length - 20} more` : ids.join(', ');
}

/** Inserts each document on its own fence (unordered); returns the positions of those that already existed. */
async function insertEach<T extends { _id: string }>(collection: Collection<T>, docs: readonly T[]): Promise<number[]> {
  return insertUnordered(collection, docs);
}

function requireNotCanceled(problem: ProblemDoc): ProblemDoc {
  if (problem.timestamp_canceled) {
    throw new ConflictError(`problem ${problem.uuid} was canceled and takes no new work`, {
      code: 'PROBLEM_CANCELED',
      details: { where: 'body', field: 'problem' },
    });
  }
  return problem;
}

async function insertOnce(insert: () => Promise<unknown>, what: string, uuid: string): Promise<void> {
  try {
    await insert();
  } catch (err) {
    if (isDuplicateKey(err) || (err as { writeErrors?: unknown }).writeErrors) {
      throw new ConflictError(`${what} ${uuid} already exists`, { code: 'ALREADY_EXISTS', details: { where: 'body', field: 'uuid' } });
    }
    throw err;
  }
}
