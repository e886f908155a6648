import { Router } from 'express';
import Joi from 'joi';
import { identifier } from '../../shared/contracts/identifiers';
import { principalOf, requireRole } from '../../shared/http/authenticate';
import { validate } from '../../shared/http/validate';
import {
  ontologyBody,
  registryModelCreateBody,
  registryModelUpdateBody,
  registryRecommendBody,
  registryTrainBody,
  registryTrainingCompleteBody,
  registryTrainingFailBody,
} from '../training/trainer-run-request';
import { publicModel, publicOntology, type ModelRegistry, type NewRegistryModel, type RegistryModelPatch } from '../training/model-registry';
import type { OntologyField, RegistryTrainingConfig } from '../../shared/contracts/training-contract';

type Id = { id: string };
type Project = { project_id: string };

const idPath = Joi.object({ id: identifier().required() });
const projectQuery = Joi.object({ project_id: identifier().required() });

/** `POST /api/ontologies` with fields, or derived from a registered dataset's profile (`dataset_id` + `target`). */
const derivedOntologyBody = Joi.object({
  project_id: identifier().required(),
  name: Joi.string().trim().min(1).max(200).required(),
  description: Joi.string().max(5000).allow('').default(''),
  dataset_id: identifier().required(),
  target: Joi.string().min(1).max(256).required(),
});

/**
 * The ML-model registry (seed 003) and its ontologies: a thin front door on the training
 * engine (model-registry.ts). Users hold any role but compute; the worker callbacks are for
 * compute nodes (and admins).
 */
export function registryRoutes(registry: ModelRegistry): Router {
  const router = Router();
  const users = requireRole('organizer', 'data-provider', 'algo-author', 'admin');
  const workers = requireRole('compute', 'admin');

  router.post('/api/ontologies', users, async (req, res) => {
    const hasDataset = typeof (req.body as { dataset_id?: unknown } | undefined)?.dataset_id === 'string';
    const body = validate(hasDataset ? derivedOntologyBody : ontologyBody, req.body, 'body') as Project & {
      name: string;
      description?: string;
      fields?: OntologyField[];
      dataset_id?: string;
      target?: string;
    };
    res.status(201).json(publicOntology(await registry.createOntology(body, principalOf(res))));
  });
  router.get('/api/ontologies', users, async (req, res) => {
    const { project_id } = validate(projectQuery, req.query, 'query') as Project;
    res.json({ ontologies: (await registry.listOntologies(project_id, principalOf(res))).map(publicOntology) });
  });
  router.get('/api/ontologies/:id', users, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path') as Id;
    res.json(publicOntology(await registry.ontology(id, principalOf(res))));
  });

  router.get('/api/ml-models', users, async (req, res) => {
    const { project_id } = validate(projectQuery, req.query, 'query') as Project;
    res.json({ models: (await registry.list(project_id, principalOf(res))).map(publicModel) });
  });
  router.post('/api/ml-models', users, async (req, res) => {
    const body = validate(registryModelCreateBody, req.body, 'body') as NewRegistryModel;
    res.status(201).json(publicModel(await registry.create(body, principalOf(res))));
  });
  // Fixed paths before `/:id`.
  router.post('/api/ml-models/train', users, async (req, res) => {
    const body = validate(registryTrainBody, req.body, 'body') as {
      model_id: string;
      storage_ids: string[];
      training_config?: Partial<RegistryTrainingConfig>;
    };
    res.status(202).json(publicModel(await registry.train(body, principalOf(res))));
  });
  router.post('/api/ml-models/recommend', users, async (req, res) => {
    const body = validate(registryRecommendBody, req.body, 'body') as Project & { ontology_id: string };
    res.json(await registry.recommend(body, principalOf(res)));
  });
  router.get('/api/ml-models/:id', users, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path') as Id;
    res.json(publicModel(await registry.get(id, principalOf(res))));
  });
  router.put('/api/ml-models/:id', users, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path') as Id;
    const body = validate(registryModelUpdateBody, req.body, 'body') as RegistryModelPatch;
    res.json(publicModel(await registry.update(id, body, principalOf(res))));
  });
  router.delete('/api/ml-models/:id', users, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path') as Id;
    await registry.remove(id, principalOf(res));
    res.status(204).end();
  });
  router.post('/api/ml-models/:id/training/complete', workers, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path') as Id;
    const body = validate(registryTrainingCompleteBody, req.body, 'body') as {
      model_artifact_path: string;
      performance_metrics: Record<string, number | null>;
      training_metrics: Record<string, number | null>;
    };
    await registry.complete(id, body);
    res.json({ status: 'training completed' });
  });
  router.post('/api/ml-models/:id/training/fail', workers, async (req, res) => {
    const { id } = validate(idPath, req.params, 'path') as Id;
    const { reason } = validate(registryTrainingFailBody, req.body, 'body') as { reason: string };
    await registry.fail(id, reason);
    res.json({ status: 'training failed' });
  });
  return router;
}
