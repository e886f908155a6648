import { Router } from 'express';
import type { Collection, Filter, Sort } from 'mongodb';
import { NotFoundError } from '../../shared/errors/uplet-error';
import { validate } from '../../shared/http/validate';
import { bestDoneLink } from '../domain/chain-rules';
import type { LearnupletDoc, ProblemDoc } from '../domain/documents';
import { logId, minibatchId, trainCursor } from '../domain/uplet-ids';
import { firstMissing } from '../work/chain-keeper';
import type { Collections } from '../persistence/collections';
import { listQueries, uuidPath, type CollectionName } from './request-schemas';
import { publicDocument } from './public-document';

const PLURAL: Record<CollectionName, string> = { problem: 'problems', algo: 'algos', data: 'datas', learnuplet: 'learnuplets', preduplet: 'preduplets' };

/** GET /{collection} with filters and pagination, GET /{collection}/{uuid}, and a problem's leaderboard. */
export function listingRoutes(c: Collections): Router {
  const router = Router();
  const collections: Record<CollectionName, Collection<{ _id: string }>> = {
    problem: c.problems as never, algo: c.algos as never, data: c.datas as never, learnuplet: c.learnuplets as never, preduplet: c.preduplets as never,
  };

  for (const name of Object.keys(PLURAL) as CollectionName[]) {
    const plural = PLURAL[name];
    const paths = name === 'data' ? ['/data', '/datas'] : [`/${name}`, `/${plural}`];

    router.get(paths, async (req, res) => {
      const { limit, offset, ...filters } = validate(listQueries[name], req.query, 'query') as { limit: number; offset: number } & Record<string, unknown>;
      const filter: Filter<{ _id: string }> = {};
      for (const [field, value] of Object.entries(filters)) {
        if (value !== undefined) (filter as Record<string, unknown>)[field === 'uuid' ? '_id' : field] = value;
      }
      const sort: Sort = name === 'learnuplet' ? { problem: 1, algo: 1, rank: 1 } : { _id: 1 };
      // One extra document tells whether another page exists, without a count over the collection.
      const docs = await collections[name].find(filter).sort(sort).skip(offset).limit(limit + 1).toArray();
      const page = docs.slice(0, limit).map(publicDocument);
      res.json({ [plural]: page, limit, offset, next_offset: docs.length > limit ? offset + limit : null });
    });

    router.get(paths.map((p) => `${p}/:uuid`), async (req, res) => {
      const { uuid } = validate(uuidPath, req.params, 'path');
      const doc = await collections[name].findOne({ _id: uuid });
      if (!doc) throw new NotFoundError(`${name} ${uuid} does not exist`, { details: { where: 'path', field: 'uuid' } });
      if (name !== 'problem') return void res.json(publicDocument(doc));
      res.json({ ...publicDocument(doc), ...(await trainDataState(c, doc as unknown as ProblemDoc)) });
    });
  }

  router.get(['/problem/:uuid/leaderboard', '/problems/:uuid/leaderboard'], async (req, res) => {
    const { uuid } = validate(uuidPath, req.params, 'path');
    const problem = await c.problems.findOne({ _id: uuid });
    if (!problem) throw new NotFoundError(`problem ${uuid} does not exist`, { details: { where: 'path', field: 'uuid' } });
    const [algos, learnuplets] = await Promise.all([
      c.algos.find({ problem: uuid }).toArray(),
      c.learnuplets.find({ problem: uuid }, { projection: { train_perf: 0, test_perf: 0, train_data: 0, test_data: 0 } }).toArray(),
    ]);
    const rows = algos.map((algo) => {
      const chain = learnuplets.filter((l) => l.algo === algo.uuid) as LearnupletDoc[];
      const best = bestDoneLink(chain, problem.metric_direction);
      const byStatus: Record<string, number> = {};
      for (const l of chain) byStatus[l.status] = (byStatus[l.status] ?? 0) + 1;
      return { algo: algo.uuid, name: algo.name, owner: algo.owner, best_perf: best?.perf ?? null, model: best?.model_end ?? null, learnuplet: best?.uuid ?? null, rank: best?.rank ?? null, ranks: chain.length, by_status: byStatus };
    });
    const sign = problem.metric_direction === 'lower' ? 1 : -1;
    rows.sort((a, b) => (a.best_perf === null ? 1 : b.best_perf === null ? -1 : sign * (a.best_perf - b.best_perf)));
    res.json({ problem: uuid, metric_direction: problem.metric_direction, leaderboard: rows });
  });

  return router;
}

/**
 * How many minibatches the problem has and which train data still wait for a
 * full one: read from the train log's end and the minibatch cursor by `_id`,
 * then the unbatched entries by the equality `batch`, never all of its data.
 */
async function trainDataState(c: Collections, problem: ProblemDoc): Promise<{ minibatches: number; train_data_waiting: string[] }> {
  const cursor = await c.cursors.findOne({ _id: trainCursor(problem.uuid) });
  const exists = async (coll: Collection<{ _id: string }>, id: string) => (await coll.findOne({ _id: id }, { projection: { _id: 1 } })) !== null;
  const [end, minibatches] = await Promise.all([
    firstMissing(cursor?.next_pos ?? 0, (pos) => exists(c.trainLog as never, logId(problem.uuid, pos))),
    firstMissing(cursor?.next_batch ?? 0, (k) => exists(c.minibatches as never, minibatchId(problem.uuid, k))),
  ]);
  const waiting: string[] = [];
  for (let k = minibatches; k * problem.size_train_dataset < end; k++) {
    const entries = await c.trainLog.find({ batch: minibatchId(problem.uuid, k) }, { projection: { pos: 1, data: 1 } }).toArray();
    waiting.push(...entries.sort((a, b) => a.pos - b.pos).map((e) => e.data));
  }
  return { minibatches, train_data_waiting: waiting };
}
