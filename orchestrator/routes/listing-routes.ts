import { Router } from 'express';
import type { Collection, Filter, Sort } from 'mongodb';
import { NotFoundError } from '../../shared/errors/uplet-error';
import { validate } from '../../shared/http/validate';
import { bestDoneLink } from '../domain/chain-rules';
import type { LearnupletDoc, ProblemDoc } from '../domain/documents';
import { logId, logKey, minibatchId, rankCursor, siteBatchId, siteTrainCursor } from '../domain/uplet-ids';
import type { Sites } from '../work/sites';
import { DEFAULT_SITE, siteOf } from '../../shared/contracts/sites';
import { firstMissing } from '../work/chain-keeper';
import type { Collections } from '../persistence/collections';
import { listQueries, uuidPath, type CollectionName } from './request-schemas';
import { publicDocument } from './public-document';

const PLURAL: Record<CollectionName, string> = { problem: 'problems', algo: 'algos', data: 'datas', learnuplet: 'learnuplets', preduplet: 'preduplets' };

/** GET /{collection} with filters and pagination, GET /{collection}/{uuid}, and a problem's leaderboard. */
export function listingRoutes(c: Collections, sites?: Sites): Router {
  const router = Router();
  const collections: Record<CollectionName, Collection<{ _id: string }>> = {
    problem: c.problems as never,
    algo: c.algos as never,
    data: c.datas as never,
    learnuplet: c.learnuplets as never,
    preduplet: c.preduplets as never,
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
      const docs = await collections[name]
        .find(filter)
        .sort(sort)
        .skip(offset)
        .limit(limit + 1)
        .toArray();
      const page = docs.slice(0, limit).map(publicDocument);
      res.json({ [plural]: page, limit, offset, next_offset: docs.length > limit ? offset + limit : null });
    });

    router.get(
      paths.map((p) => `${p}/:uuid`),
      async (req, res) => {
        const { uuid } = validate(uuidPath, req.params, 'path');
        const doc = await collections[name].findOne({ _id: uuid });
        if (!doc) throw new NotFoundError(`${name} ${uuid} does not exist`, { details: { where: 'path', field: 'uuid' } });
        if (name !== 'problem') return void res.json(publicDocument(doc));
        res.json({ ...publicDocument(doc), ...(await trainDataState(c, doc as unknown as ProblemDoc, sites)) });
      },
    );
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
      return {
        algo: algo.uuid,
        name: algo.name,
        owner: algo.owner,
        best_perf: best?.perf ?? null,
        model: best?.model_end ?? null,
        learnuplet: best?.uuid ?? null,
        rank: best?.rank ?? null,
        ranks: chain.length,
        by_status: byStatus,
      };
    });
    const sign = problem.metric_direction === 'lower' ? 1 : -1;
    rows.sort((a, b) => (a.best_perf === null ? 1 : b.best_perf === null ? -1 : sign * (a.best_perf - b.best_perf)));
    res.json({ problem: uuid, metric_direction: problem.metric_direction, leaderboard: rows });
  });

  return router;
}

/**
 * How many minibatches the problem has and, per site, which train data still wait for a full
 * one: read from each site's log end and batch cursor by `_id`, then the unplaced entries by the
 * equality `batch`, never all of its data. `waiting_for` names the sites whose chains' next rank
 * is todo while no agent of theirs is live ("waiting for site …"): it runs when one comes back.
 */
async function trainDataState(c: Collections, problem: ProblemDoc, sites?: Sites): Promise<Record<string, unknown>> {
  const exists = async (coll: Collection<{ _id: string }>, id: string) => (await coll.findOne({ _id: id }, { projection: { _id: 1 } })) !== null;
  const ranks = await c.cursors.findOne({ _id: rankCursor(problem.uuid) });
  const minibatches = await firstMissing(ranks?.next_batch ?? 0, (k) => exists(c.minibatches as never, minibatchId(problem.uuid, k)));
  const size = problem.size_train_dataset;
  const perSite: Record<string, { minibatches: number; train_data_waiting: string[] }> = {};
  const waitingAll: string[] = [];
  for (const site of sites?.names() ?? [DEFAULT_SITE]) {
    const key = logKey(problem.uuid, site);
    const cursor = await c.cursors.findOne({ _id: siteTrainCursor(problem.uuid, site) });
    const end = await firstMissing(cursor?.next_pos ?? 0, (pos) => exists(c.trainLog as never, logId(key, pos)));
    if (end === 0) continue;
    const placed = await firstMissing(
      cursor?.next_batch ?? 0,
      async (j) => (await c.minibatches.findOne({ site_batch: siteBatchId(problem.uuid, site, j) }, { projection: { _id: 1 } })) !== null,
    );
    const waiting: string[] = [];
    for (let j = placed; j * size < end; j++) {
      const entries = await c.trainLog.find({ batch: siteBatchId(problem.uuid, site, j) }, { projection: { pos: 1, data: 1 } }).toArray();
      waiting.push(...entries.sort((a, b) => a.pos - b.pos).map((e) => e.data));
    }
    perSite[site] = { minibatches: placed, train_data_waiting: waiting };
    waitingAll.push(...waiting);
  }
  const waiting_for = sites ? await waitingFor(c, problem, sites) : [];
  return { minibatches, train_data_waiting: waitingAll, sites: perSite, waiting_for };
}

/** The chains whose next rank is todo at a site with no live agent: one equality read of the problem's todo ranks. */
async function waitingFor(c: Collections, problem: ProblemDoc, sites: Sites): Promise<Array<{ algo: string; rank: number; site: string; message: string }>> {
  const todo = await c.learnuplets.find({ problem: problem.uuid, status: 'todo' }, { projection: { algo: 1, rank: 1, site: 1 } }).toArray();
  const live = new Map<string, boolean>();
  const out: Array<{ algo: string; rank: number; site: string; message: string }> = [];
  for (const l of todo) {
    const site = siteOf(l);
    if (!live.has(site)) live.set(site, (await sites.liveAgents(site)).length > 0);
    if (!live.get(site)) out.push({ algo: l.algo, rank: l.rank, site, message: `waiting for site ${site}: no live agent` });
  }
  return out.sort((a, b) => a.algo.localeCompare(b.algo) || a.rank - b.rank);
}
