import { Router } from 'express';
import Joi from 'joi';
import { identifier } from '../../shared/contracts/identifiers';
import { principalOf, requireRole } from '../../shared/http/authenticate';
import { validate } from '../../shared/http/validate';
import { datasetBody, jobBody } from '../training/job-request';
import type { JobRequest, TrainingEngine } from '../training/training-engine';
import { publicDocument } from './public-document';

const idPath = Joi.object({ id: identifier().required() });
const paging = Joi.object({ limit: Joi.number().integer().min(1).max(1000).default(100), offset: Joi.number().integer().min(0).max(10_000_000).default(0) });
const jobListing = paging.keys({ dataset_id: identifier() });

/**
 * The training engine's own calls: datasets (register, list, read), and jobs (submit, read,
 * cancel). The front doors (trainer run, Akkio, registry) are separate and call the engine.
 */
export function engineRoutes(engine: TrainingEngine): Router {
  const router = Router();
  const users = requireRole('organizer', 'data-provider', 'algo-author', 'admin');

  router.post('/v1/datasets', requireRole('data-provider', 'admin'), async (req, res) => {
    const body = validate(datasetBody, req.body, 'body');
    const d = await engine.registerDataset(body, principalOf(res));
    res.status(201).json({ dataset_id: d.dataset_id, status: d.status, ...(d.failure_reason ? { failure_reason: d.failure_reason } : {}) });
  });

  router.get('/v1/datasets', users, async (req, res) => {
    const { limit, offset } = validate(paging, req.query, 'query');
    const list = await engine.listDatasets(principalOf(res), limit, offset);
    res.json({ datasets: list.map(publicDocument), limit, offset });
  });

  router.get('/v1/datasets/:id', users, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path');
    res.json(publicDocument(await engine.dataset(id, principalOf(res))));
  });

  // The engine's job request as is: for operators and tests; users go through the front doors.
  router.post('/v1/jobs', requireRole('data-provider', 'admin'), async (req, res) => {
    const body = validate(jobBody, req.body, 'body') as JobRequest;
    const job = await engine.submit(body, principalOf(res));
    res.status(201).json({ job_id: job.job_id, status: job.status, dataset_id: job.dataset_id });
  });

  router.get('/v1/jobs', users, async (req, res) => {
    const { limit, offset, dataset_id: datasetId } = validate(jobListing, req.query, 'query') as { limit: number; offset: number; dataset_id?: string };
    res.json({ jobs: await engine.listJobs(principalOf(res), limit, offset, datasetId), limit, offset });
  });

  router.get('/v1/jobs/:id', users, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path');
    res.json(await engine.get(id, principalOf(res)));
  });

  router.post('/v1/jobs/:id/cancel', users, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path');
    const job = await engine.cancel(id, principalOf(res));
    res.json({ job_id: job.job_id, status: job.status });
  });

  router.get('/v1/models/:id', users, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path');
    res.json(publicDocument(await engine.model(id, principalOf(res))));
  });

  return router;
}
