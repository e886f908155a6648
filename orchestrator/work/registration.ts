import crypto from 'node:crypto';
import type { Principal } from '../../shared/auth/api-keys';
import { ConflictError, UnprocessableError } from '../../shared/errors/uplet-error';
import { bestDoneLink } from '../domain/chain-rules';
import type { AlgoDoc, DataDoc, MetricDirection, PredupletDoc, ProblemDoc } from '../domain/documents';
import { predupletUuid } from '../domain/uplet-ids';
import { isDuplicateKey, type Collections } from '../persistence/collections';
import type { WorkDispatcher } from '../messaging/work-dispatcher';
import type { ChainKeeper } from './chain-keeper';

export interface NewProblem {
  uuid: string;
  workflow: string;
  test_dataset: string[];
  size_train_dataset: number;
  metric_direction: MetricDirection;
}

export interface NewAlgo {
  uuid: string;
  name: string;
  problem: string;
}

export interface NewData {
  uuids: string[];
  problems: string[];
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
  ) {}

  async postProblem(input: NewProblem, owner: Principal): Promise<ProblemDoc> {
    const doc: ProblemDoc = { _id: input.uuid, ...input, owner: owner.name, timestamp_upload: new Date() };
    await insertOnce(() => this.c.problems.insertOne(doc), 'problem', input.uuid);
    return doc;
  }

  async postAlgo(input: NewAlgo, owner: Principal): Promise<{ algo: AlgoDoc; newLearnuplets: number }> {
    const problem = requireNotCanceled(await this.requireProblem(input.problem, 'problem'));
    const doc: AlgoDoc = { _id: input.uuid, ...input, owner: owner.name, timestamp_upload: new Date() };
    await insertOnce(() => this.c.algos.insertOne(doc), 'algo', input.uuid);
    return { algo: doc, newLearnuplets: await this.chains.extendProblem(problem) };
  }

  async postData(input: NewData, owner: Principal): Promise<{ datas: DataDoc[]; newLearnuplets: number }> {
    const problems = await Promise.all(input.problems.map((p, i) => this.requireProblem(p, input.problems.length > 1 ? `problems.${i}` : 'problems')));
    const taken = await this.c.datas.find({ _id: { $in: input.uuids } }, { projection: { _id: 1 } }).toArray();
    if (taken.length > 0) {
      throw new ConflictError(`data already registered: ${taken.map((d) => d._id).join(', ')}`, { code: 'ALREADY_EXISTS', details: { where: 'body', field: 'uuid', uuids: taken.map((d) => d._id) } });
    }
    const now = new Date();
    const docs: DataDoc[] = input.uuids.map((uuid, upload_index) => ({ _id: uuid, uuid, problems: input.problems, owner: owner.name, timestamp_upload: now, upload_index }));
    await insertOnce(() => this.c.datas.insertMany(docs, { ordered: true }), 'data', input.uuids.join(', '));
    let newLearnuplets = 0;
    for (const problem of problems) newLearnuplets += await this.chains.extendProblem(problem);
    return { datas: docs, newLearnuplets };
  }

  /**
   * One preduplet per data item, on the problem's best model so far. Only data
   * the requester registered may be named: the claim's capability opens it, so
   * naming someone else's data would open it to any compute node.
   */
  async requestPrediction(input: NewPrediction, requester: Principal): Promise<PredupletDoc[]> {
    const problem = requireNotCanceled(await this.requireProblem(input.problem, 'problem'));
    const done = await this.c.learnuplets.find({ problem: problem.uuid, status: 'done' }).toArray();
    const best = bestDoneLink(done, problem.metric_direction);
    if (!best) {
      throw new UnprocessableError(`problem ${problem.uuid} has no trained model yet: no learnuplet of it is done`, { code: 'NO_TRAINED_MODEL', details: { where: 'body', field: 'problem' } });
    }
    // One equality lookup per item ($in scans on FerretDB).
    const owned = await Promise.all(input.data.map((d) => this.c.datas.findOne({ _id: d, owner: requester.name }, { projection: { _id: 1 } })));
    const refused = owned.flatMap((doc, i) => (doc ? [] : [i]));
    if (refused.length > 0) {
      const field = input.data.length > 1 ? `data.${refused[0]}` : 'data';
      throw new UnprocessableError(`predictions may be requested only on data you registered (POST /data); not yours or not registered: ${refused.slice(0, 10).map((i) => input.data[i]).join(', ')}`, {
        code: 'DATA_NOT_YOURS', details: { where: 'body', field, items: refused.slice(0, 100).map((i) => input.data[i]) },
      });
    }
    const requestId = crypto.randomUUID();
    const now = new Date();
    const docs: PredupletDoc[] = input.data.map((data) => {
      const uuid = predupletUuid(requestId, data);
      return {
        _id: uuid, uuid, problem: problem.uuid, workflow: problem.workflow, data, model: best.model_end, algo: best.algo, learnuplet: best.uuid,
        owner: requester.name, status: 'todo', worker: null, attempt: 0, failure_reason: null, prediction_storage_uuid: null,
        timestamp_request: now, timestamp_todo: now, timestamp_claimed: null, timestamp_done: null,
      };
    });
    await this.c.preduplets.insertMany(docs, { ordered: false });
    await this.dispatcher.dispatch('preduplet', docs.map((d) => d.uuid));
    return docs;
  }

  private async requireProblem(uuid: string, field: string): Promise<ProblemDoc> {
    const problem = await this.c.problems.findOne({ _id: uuid });
    if (!problem) throw new UnprocessableError(`problem ${uuid} does not exist`, { code: 'UNKNOWN_PROBLEM', details: { where: 'body', field } });
    return problem;
  }
}

function requireNotCanceled(problem: ProblemDoc): ProblemDoc {
  if (problem.timestamp_canceled) {
    throw new ConflictError(`problem ${problem.uuid} was canceled and takes no new work`, { code: 'PROBLEM_CANCELED', details: { where: 'body', field: 'problem' } });
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
