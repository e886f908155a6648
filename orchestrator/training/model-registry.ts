import crypto from 'node:crypto';
import type { Collection, Db } from 'mongodb';
import type { Principal } from '../../shared/auth/api-keys';
import type { DatasetProfile, OntologyField, RegistryModelStatus, RegistryModelType, RegistryTrainingConfig } from '../../shared/contracts/training-contract';
import { IllegalTransitionError } from '../../shared/errors/training-errors';
import { NotFoundError, UnprocessableError } from '../../shared/errors/uplet-error';
import type { Logger } from '../../shared/logging/logger';
import { isDuplicateKey } from '../persistence/collections';
import { DEFAULT_SITE } from '../../shared/contracts/sites';
import type { EventPublisher } from '../work/event-publisher';
import { findColumn } from './dataset-profile';
import type { DatasetDoc, EngineModelDoc, JobDoc } from './engine-documents';
import { familyOfRegistryType } from './families';
import { REGISTRY_TRANSITIONS, transitionModel } from './job-status';
import { analyseOntology, recommendModelType, type Recommendation } from './recommend';
import type { JobRequest, TrainingEngine } from './training-engine';

/**
 * The ML-model registry (seed 003): a thin front door on the training engine. Its records are
 * ontologies (a project's data schema) and models; a model's status changes only through
 * `transition`, whose every step is won once by an insert fence `<model>/<seq>` (seq = the
 * model's count of transitions), so two concurrent callbacks, or a callback racing the engine's
 * own completion, record one outcome. Every applied transition is an event numbered per project
 * by an insert fence `<project>/<n>` (stored, so a client replays from its last number) and
 * published on the events exchange (subject `model`).
 */

export interface OntologyDoc {
  _id: string;
  ontology_id: string;
  project_id: string;
  name: string;
  description: string;
  fields: OntologyField[];
  /** The dataset it was derived from (its profile feeds recommend), else null. */
  dataset_id: string | null;
  owner: string;
  created_at: Date;
}

export interface RegistryModelDoc {
  _id: string;
  id: string;
  project_id: string;
  ontology_id: string;
  name: string;
  description: string;
  type: RegistryModelType;
  family: string;
  status: RegistryModelStatus;
  /** Why it is in this status (a failure, a cancellation), else null. */
  status_reason: string | null;
  training_config: RegistryTrainingConfig;
  metadata: Record<string, unknown>;
  training_metrics: Record<string, number | null>;
  performance_metrics: Record<string, number | null>;
  /** A storage reference `storage://<site>/model/<uuid>` (or what an external worker reported). */
  model_artifact_path: string | null;
  trained_on_synthetic_data: boolean;
  /** What the current (or last) training ran on: a registered dataset, or synthetic data made from the ontology; null before any. */
  trained_on?: 'dataset' | 'synthetic' | null;
  /** A synthetic training: its synthesize task (`<model>-synth-<n>`) and, once made, its dataset (`<task>-ds`). */
  synthetic_task?: string | null;
  synthetic_dataset_id?: string | null;
  storage_ids: string[];
  /** The engine job of the current (or last) training, and the engine model it produced. */
  job_id: string | null;
  engine_model_id: string | null;
  owner: string;
  /** Transitions applied so far: the next one is fenced by `<id>/<seq + 1>`. */
  seq: number;
  created_at: Date;
  updated_at: Date;
}

/** One transition, inserted once: `_id` `<model>/<seq>`. */
export interface ModelFenceDoc {
  _id: string;
  model: string;
  seq: number;
  from: RegistryModelStatus;
  to: RegistryModelStatus;
  /** Who asked: `put`, `train`, `complete`, `fail`, `job`. */
  cause: string;
  /** Digest of the request that won (a repeated identical callback answers as the first did). */
  digest: string;
  fields: Record<string, unknown>;
  at: Date;
}

/** A numbered model event, `_id` `<project>/<n>`. */
export interface ModelEventDoc {
  _id: string;
  project_id: string;
  seq: number;
  model_id: string;
  owner: string;
  from: RegistryModelStatus | null;
  status: RegistryModelStatus | 'deleted';
  reason: string | null;
  at: Date;
}

export interface RegistryCollections {
  ontologies: Collection<OntologyDoc>;
  models: Collection<RegistryModelDoc>;
  fences: Collection<ModelFenceDoc>;
  events: Collection<ModelEventDoc>;
}

export function registryCollectionsOf(db: Db): RegistryCollections {
  return {
    ontologies: db.collection('registry_ontologies'),
    models: db.collection('registry_models'),
    fences: db.collection('registry_fences'),
    events: db.collection('registry_events'),
  };
}

export interface NewRegistryModel {
  project_id: string;
  ontology_id: string;
  name: string;
  description: string;
  type: string;
  training_config: RegistryTrainingConfig;
  metadata: Record<string, unknown>;
}
export type RegistryModelPatch = Partial<Pick<RegistryModelDoc, 'name' | 'description' | 'status' | 'training_metrics' | 'performance_metrics' | 'metadata'>>;

/** What a model looks like on the wire: the seed's fields plus the registry's own. */
export function publicModel(m: RegistryModelDoc) {
  const { _id: _i, seq: _s, ...rest } = m;
  return rest;
}
export function publicOntology(o: OntologyDoc) {
  const { _id: _i, ...rest } = o;
  return rest;
}
export function publicEvent(e: ModelEventDoc) {
  return { seq: e.seq, project_id: e.project_id, model_id: e.model_id, from: e.from, status: e.status, reason: e.reason, at: e.at.toISOString() };
}

const digestOf = (value: unknown) => crypto.createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
const canRead = (owner: string, p: Principal) => owner === p.name || p.roles.includes('admin') || p.roles.includes('compute');

/** Where a model's refit lives, as a storage reference. */
export const artifactPath = (site: string, storageUuid: string) => `storage://${site}/model/${storageUuid}`;

/** Seed 003's metric names from an engine report's held-out metrics. */
export function registryMetricsOf(report: Record<string, unknown>): { performance: Record<string, number | null>; training: Record<string, number | null> } {
  const m = (report.metrics ?? {}) as Record<string, number>;
  const pick = (k: string) => (typeof m[k] === 'number' ? m[k] : null);
  const performance: Record<string, number | null> =
    'rmse' in m || 'r2' in m
      ? { rmse: pick('rmse'), mae: pick('mae'), r2: pick('r2') }
      : { accuracy: pick('accuracy'), f1_score: pick('f1'), precision: pick('precision'), recall: pick('recall') };
  const model = (report.model ?? {}) as Record<string, unknown>;
  const training: Record<string, number | null> = {};
  // Iterative families report their epochs and losses (an MLP's n_iter_ and loss_) when the Python gives them.
  for (const [from, to] of [
    ['n_iter', 'epoch'],
    ['epoch', 'epoch'],
    ['training_loss', 'training_loss'],
    ['loss', 'training_loss'],
    ['validation_loss', 'validation_loss'],
  ] as const) {
    if (typeof model[from] === 'number' && training[to] === undefined) training[to] = model[from];
  }
  return { performance, training };
}

/** The ontology a dataset's profile suggests: every column a feature of its profiled type, `target` the target. */
export function ontologyFromProfile(profile: DatasetProfile, target: string): OntologyField[] {
  const column = findColumn(profile, target);
  if (!column)
    throw new UnprocessableError(`no column named ${JSON.stringify(target)} in the dataset`, {
      code: 'UNKNOWN_COLUMN',
      details: { where: 'body', field: 'target' },
    });
  return profile.columns.map((c) => {
    // A 0/1 numeric target is a class label (as the Akkio door infers it).
    const type = c.name === target && c.type === 'numeric' && c.distinct === 2 ? 'category' : c.type;
    return { name: c.name, type, role: c.name === target ? 'target' : 'feature' };
  });
}

/** A synthetic training's task and dataset ids: deterministic, so each is an insert fence. */
export const synthTaskId = (model: string, n: number) => `${model}-synth-${n}`;
export const synthDatasetId = (task: string) => `${task}-ds`;
/** Rows of synthetic data per training (the Python's default). */
const SYNTHETIC_ROWS = 500;

/** The engine job of a registry training: the ontology's target, one family, the seed's metric names. */
function jobRequestOf(m: RegistryModelDoc, ontology: OntologyDoc, dataset: DatasetDoc, config: RegistryTrainingConfig): JobRequest {
  const analysis = analyseOntology(ontology);
  const profile = dataset.profile!;
  const used = new Set(ontology.fields.filter((f) => f.role === 'feature' || f.role === 'target').map((f) => f.name));
  return {
    dataset_id: dataset.dataset_id,
    label_column: analysis.target.name,
    task_kind: analysis.task_kind,
    filters: [],
    ignore_fields: profile.columns.map((c) => c.name).filter((n) => !used.has(n)),
    families: [m.family],
    metrics: analysis.task_kind === 'classification' ? ['accuracy', 'f1', 'precision', 'recall'] : ['rmse', 'mae', 'r2'],
    strategy: 'optuna',
    n_trials: 1,
    evaluation: { kind: 'holdout', train_fraction: config.train_test_split },
    class_weight: null,
    random_state: config.random_seed,
    grid_size: null,
    ensemble: false,
    budget_seconds: null,
    fixed_params: fixedParamsOf(m.family, config),
  };
}

/**
 * training_config's learning rate and batch size, as the family names them: the neural network's
 * `learning_rate_init` and `batch_size`. Decision trees, random forests and linear models have
 * neither; for them the two values are recorded on the model and not used.
 */
function fixedParamsOf(family: string, config: RegistryTrainingConfig): Record<string, unknown> | null {
  if (family !== 'neural_network') return null;
  const params: Record<string, unknown> = {};
  if (typeof config.learning_rate === 'number') params.learning_rate_init = config.learning_rate;
  if (typeof config.batch_size === 'number') params.batch_size = config.batch_size;
  return Object.keys(params).length > 0 ? params : null;
}

export class ModelRegistry {
  private readonly listeners = new Set<(e: ModelEventDoc) => void>();

  constructor(
    private readonly r: RegistryCollections,
    private readonly datasets: Collection<DatasetDoc>,
    private readonly engineModels: Collection<EngineModelDoc>,
    private readonly jobs: Collection<JobDoc>,
    private readonly engine: TrainingEngine,
    private readonly events: EventPublisher,
    private readonly logger: Logger,
  ) {}

  // ---- ontologies -----------------------------------------------------------------------------

  async createOntology(
    input: { project_id: string; name: string; description?: string; fields?: OntologyField[]; dataset_id?: string; target?: string },
    owner: Principal,
  ): Promise<OntologyDoc> {
    let fields = input.fields;
    let datasetId: string | null = null;
    if (input.dataset_id) {
      const d = await this.datasets.findOne({ _id: input.dataset_id });
      if (!d || !canRead(d.owner, owner))
        throw new UnprocessableError(`dataset ${input.dataset_id} does not exist`, {
          code: 'UNKNOWN_DATASET',
          details: { where: 'body', field: 'dataset_id' },
        });
      if (d.status !== 'ready' || !d.profile)
        throw new UnprocessableError(`dataset ${d.dataset_id} is ${d.status}, not ready`, {
          code: 'DATASET_NOT_READY',
          details: { where: 'body', field: 'dataset_id' },
        });
      fields = ontologyFromProfile(d.profile, input.target!);
      datasetId = d.dataset_id;
    }
    const id = `ont-${crypto.randomBytes(8).toString('hex')}`;
    const doc: OntologyDoc = {
      _id: id,
      ontology_id: id,
      project_id: input.project_id,
      name: input.name,
      description: input.description ?? '',
      fields: fields!,
      dataset_id: datasetId,
      owner: owner.name,
      created_at: new Date(),
    };
    analyseOntology(doc); // exactly one target
    await this.r.ontologies.insertOne(doc);
    return doc;
  }

  async ontology(id: string, reader: Principal, where: 'path' | 'body' = 'path'): Promise<OntologyDoc> {
    const o = await this.r.ontologies.findOne({ _id: id });
    if (!o || !canRead(o.owner, reader)) {
      const message = `ontology ${id} does not exist`;
      if (where === 'body') throw new UnprocessableError(message, { code: 'UNKNOWN_ONTOLOGY', details: { where: 'body', field: 'ontology_id' } });
      throw new NotFoundError(message, { details: { where: 'path', field: 'id' } });
    }
    return o;
  }

  async listOntologies(projectId: string, reader: Principal): Promise<OntologyDoc[]> {
    const list = await this.r.ontologies.find({ project_id: projectId }).toArray();
    return list.filter((o) => canRead(o.owner, reader)).sort((a, b) => a.created_at.getTime() - b.created_at.getTime());
  }

  // ---- models ---------------------------------------------------------------------------------

  async create(input: NewRegistryModel, owner: Principal): Promise<RegistryModelDoc> {
    const family = familyOfRegistryType(input.type);
    const ontology = await this.ontology(input.ontology_id, owner, 'body');
    if (ontology.project_id !== input.project_id)
      throw new UnprocessableError(`ontology ${ontology.ontology_id} belongs to project ${ontology.project_id}`, {
        code: 'UNKNOWN_ONTOLOGY',
        details: { where: 'body', field: 'ontology_id' },
      });
    const id = `mdl-${crypto.randomBytes(8).toString('hex')}`;
    const now = new Date();
    const doc: RegistryModelDoc = {
      _id: id,
      id,
      project_id: input.project_id,
      ontology_id: input.ontology_id,
      name: input.name,
      description: input.description,
      type: input.type as RegistryModelType,
      family,
      status: 'draft',
      status_reason: null,
      training_config: input.training_config,
      metadata: input.metadata,
      training_metrics: {},
      performance_metrics: {},
      model_artifact_path: null,
      trained_on_synthetic_data: false,
      trained_on: null,
      storage_ids: [],
      job_id: null,
      engine_model_id: null,
      owner: owner.name,
      seq: 0,
      created_at: now,
      updated_at: now,
    };
    await this.r.models.insertOne(doc);
    await this.record(doc, null, 'draft', null);
    return doc;
  }

  async list(projectId: string, reader: Principal): Promise<RegistryModelDoc[]> {
    const list = (await this.r.models.find({ project_id: projectId }).toArray()).filter((m) => canRead(m.owner, reader));
    const out: RegistryModelDoc[] = [];
    for (const m of list.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || a.id.localeCompare(b.id))) out.push(await this.reconcile(m));
    return out;
  }

  /** The model, after applying a transition whose winner died before its write, and following its engine job. */
  async get(id: string, reader: Principal): Promise<RegistryModelDoc> {
    const m = await this.r.models.findOne({ _id: id });
    if (!m || !canRead(m.owner, reader)) throw new NotFoundError(`model ${id} does not exist`, { details: { where: 'path', field: 'id' } });
    return this.reconcile(m);
  }

  async update(id: string, patch: RegistryModelPatch, by: Principal): Promise<RegistryModelDoc> {
    const m = await this.get(id, by);
    const { status, ...fields } = patch;
    if (status !== undefined && status !== m.status) {
      return this.transition(id, {
        to: status,
        cause: 'put',
        digest: digestOf({ put: patch, at: Date.now() }),
        fields: { ...fields, status_reason: null },
      }).then((x) => x.model);
    }
    if (status !== undefined) transitionModel(m.status, status);
    if (Object.keys(fields).length > 0) await this.r.models.updateOne({ _id: id }, { $set: { ...fields, updated_at: new Date() } });
    return (await this.r.models.findOne({ _id: id }))!;
  }

  async remove(id: string, by: Principal): Promise<void> {
    const m = await this.get(id, by);
    if (m.status === 'training' && m.job_id) await this.engine.cancel(m.job_id, { name: m.owner, roles: ['admin'] }).catch(() => undefined);
    const r = await this.r.models.deleteOne({ _id: id });
    if (r.deletedCount === 1) await this.record(m, m.status, 'deleted', null);
  }

  // ---- transitions ----------------------------------------------------------------------------

  /**
   * One status change, won once. `expect` (callbacks and the job's end) says which status the
   * change must start from: `training`. The winner inserts `<id>/<seq+1>`, numbers the event,
   * then applies the change (filter on the seq it read); a loser re-reads and retries, and a
   * fence whose winner died before applying it is applied by whoever finds it.
   */
  async transition(
    id: string,
    t: { to: RegistryModelStatus; cause: string; digest: string; fields: Record<string, unknown>; expect?: RegistryModelStatus },
  ): Promise<{ model: RegistryModelDoc; won: boolean; repeated: boolean }> {
    for (let round = 0; round < 20; round++) {
      const m = await this.r.models.findOne({ _id: id });
      if (!m) throw new NotFoundError(`model ${id} does not exist`, { details: { where: 'path', field: 'id' } });
      if (await this.applyPending(m)) continue;
      if (t.expect && m.status !== t.expect) {
        const last = m.seq > 0 ? await this.r.fences.findOne({ _id: `${id}/${m.seq}` }) : null;
        if (last && last.digest === t.digest && last.to === m.status) return { model: m, won: false, repeated: true };
        throw new IllegalTransitionError('a model', m.status, t.to, REGISTRY_TRANSITIONS[m.status]);
      }
      transitionModel(m.status, t.to);
      const fence: ModelFenceDoc = {
        _id: `${id}/${m.seq + 1}`,
        model: id,
        seq: m.seq + 1,
        from: m.status,
        to: t.to,
        cause: t.cause,
        digest: t.digest,
        fields: t.fields,
        at: new Date(),
      };
      try {
        await this.r.fences.insertOne(fence);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        continue; // someone else's change: read again
      }
      await this.record(m, m.status, t.to, (t.fields.status_reason as string | null | undefined) ?? null);
      await this.apply(fence);
      return { model: (await this.r.models.findOne({ _id: id }))!, won: true, repeated: false };
    }
    throw new Error(`model ${id}: too many concurrent changes`);
  }

  private async apply(f: ModelFenceDoc): Promise<boolean> {
    const r = await this.r.models.updateOne({ _id: f.model, seq: f.seq - 1 }, { $set: { ...f.fields, status: f.to, seq: f.seq, updated_at: f.at } });
    return r.modifiedCount === 1;
  }

  /** A fence beyond the model's seq (its winner died before applying it): applied now. */
  private async applyPending(m: RegistryModelDoc): Promise<boolean> {
    const next = await this.r.fences.findOne({ _id: `${m._id}/${m.seq + 1}` });
    if (!next) return false;
    if (await this.apply(next)) this.logger.info('registry transition repaired', { model: m._id, seq: next.seq, to: next.to });
    return true;
  }

  private async reconcile(m: RegistryModelDoc): Promise<RegistryModelDoc> {
    let model = m;
    for (let i = 0; i < 5 && (await this.applyPending(model)); i++) model = (await this.r.models.findOne({ _id: m._id })) ?? model;
    if (model.status === 'training' && model.job_id) {
      const job = await this.jobs.findOne({ _id: model.job_id });
      if (job && ['completed', 'failed', 'canceled'].includes(job.status)) {
        await this.afterJob(job).catch((e: Error) => this.logger.warn('registry could not follow its job', { model: model._id, error: e.message }));
        model = (await this.r.models.findOne({ _id: m._id })) ?? model;
      }
    }
    return model;
  }

  // ---- events ---------------------------------------------------------------------------------

  /** Numbers the change in its project (`<project>/<n>`, retried on a duplicate), stores and publishes it. */
  private async record(m: RegistryModelDoc, from: RegistryModelStatus | null, status: ModelEventDoc['status'], reason: string | null): Promise<ModelEventDoc> {
    let n = (await this.latestEventSeq(m.project_id)) + 1;
    for (;;) {
      const doc: ModelEventDoc = {
        _id: `${m.project_id}/${n}`,
        project_id: m.project_id,
        seq: n,
        model_id: m.id,
        owner: m.owner,
        from,
        status,
        reason,
        at: new Date(),
      };
      try {
        await this.r.events.insertOne(doc);
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        n++;
        continue;
      }
      this.events.publish({
        subject: 'model',
        id: m.id,
        status,
        at: doc.at.toISOString(),
        scope: { project: m.project_id, owner: m.owner },
        detail: { seq: n, from, reason },
      });
      for (const l of this.listeners) l(doc);
      return doc;
    }
  }

  /** The number of the project's newest stored event (0 before any). */
  async latestEventSeq(projectId: string): Promise<number> {
    const last = await this.r.events.find({ project_id: projectId }).sort({ seq: -1 }).limit(1).toArray();
    return last[0]?.seq ?? 0;
  }

  /** The stored events of a project after `since`, oldest first (optionally one model's). */
  async eventsSince(projectId: string, since: number, modelId?: string): Promise<ModelEventDoc[]> {
    // The server filters and sorts, so a reconnecting client after event n is sent only the events after n.
    return this.r.events
      .find({ project_id: projectId, seq: { $gt: since }, ...(modelId ? { model_id: modelId } : {}) })
      .sort({ seq: 1 })
      .toArray();
  }

  /** The project of a model (for a WebSocket subscribed to one model). */
  async projectOf(modelId: string): Promise<{ project_id: string; owner: string } | null> {
    const m = await this.r.models.findOne({ _id: modelId });
    if (m) return { project_id: m.project_id, owner: m.owner };
    const e = await this.r.events.findOne({ model_id: modelId });
    return e ? { project_id: e.project_id, owner: e.owner } : null;
  }

  // ---- training -------------------------------------------------------------------------------

  /** Starts a training: the engine job on the named dataset, the model `training`. */
  async train(input: { model_id: string; storage_ids: string[]; training_config?: Partial<RegistryTrainingConfig> }, by: Principal): Promise<RegistryModelDoc> {
    const m = await this.get(input.model_id, by);
    transitionModel(m.status, 'training');
    if (m.status === 'training') throw new IllegalTransitionError('a model', m.status, 'training', REGISTRY_TRANSITIONS[m.status]);
    const ontology = await this.ontology(m.ontology_id, by, 'body');
    analyseOntology(ontology); // exactly one target, before anything starts
    const config: RegistryTrainingConfig = { ...m.training_config, ...(input.training_config ?? {}) };
    const sets: DatasetDoc[] = [];
    for (const [i, id] of input.storage_ids.entries()) {
      const d = (await this.datasets.findOne({ _id: id })) ?? (await this.datasets.findOne({ storage_uuid: id, owner: m.owner }));
      if (!d || !canRead(d.owner, by))
        throw new UnprocessableError(`no registered dataset ${id}`, { code: 'UNKNOWN_DATASET', details: { where: 'body', field: `storage_ids.${i}` } });
      sets.push(d);
    }
    if (sets.length === 0) return this.trainSynthetic(m, ontology, config);
    const sites = [...new Set(sets.map((d) => d.site))];
    if (sites.length > 1)
      throw new UnprocessableError(`storage_ids are at different sites (${sites.join(', ')}); one site per training for now`, {
        code: 'MIXED_SITES',
        details: { where: 'body', field: 'storage_ids', sites },
      });
    if (sets.length > 1)
      throw new UnprocessableError('one dataset per training for now', { code: 'TOO_MANY_DATASETS', details: { where: 'body', field: 'storage_ids' } });
    const dataset = sets[0]!;
    if (dataset.status !== 'ready' || !dataset.profile)
      throw new UnprocessableError(`dataset ${dataset.dataset_id} is ${dataset.status}, not ready`, {
        code: 'DATASET_NOT_READY',
        details: { where: 'body', field: 'storage_ids.0' },
      });
    const request = jobRequestOf(m, ontology, dataset, config);
    const job = await this.engine.submit(request, { name: m.owner, roles: by.roles.includes('admin') ? ['admin'] : ['data-provider'] });
    const { model } = await this.transition(m.id, {
      to: 'training',
      cause: 'train',
      digest: digestOf({ train: job.job_id }),
      fields: {
        job_id: job.job_id,
        engine_model_id: null,
        storage_ids: sets.map((d) => d.dataset_id),
        training_config: config,
        trained_on_synthetic_data: false,
        trained_on: 'dataset',
        synthetic_task: null,
        synthetic_dataset_id: null,
        status_reason: null,
        model_artifact_path: null,
      },
    }).catch(async (err: Error) => {
      await this.engine.cancel(job.job_id, { name: m.owner, roles: ['admin'] }).catch(() => undefined);
      throw err;
    });
    return model;
  }

  /** A worker's report (or the engine's): complete or fail, won once against every other report. */
  async complete(
    id: string,
    body: { model_artifact_path: string; performance_metrics: Record<string, number | null>; training_metrics: Record<string, number | null> },
  ): Promise<{ repeated: boolean }> {
    await this.existing(id);
    const r = await this.transition(id, {
      to: 'trained',
      expect: 'training',
      cause: 'complete',
      digest: digestOf({ complete: body }),
      fields: { ...body, status_reason: null },
    });
    return { repeated: r.repeated };
  }

  async fail(id: string, reason: string): Promise<{ repeated: boolean }> {
    await this.existing(id);
    const r = await this.transition(id, {
      to: 'failed',
      expect: 'training',
      cause: 'fail',
      digest: digestOf({ fail: reason }),
      fields: { status_reason: reason },
    });
    return { repeated: r.repeated };
  }

  private async existing(id: string): Promise<void> {
    if (!(await this.r.models.findOne({ _id: id }, { projection: { _id: 1 } })))
      throw new NotFoundError(`model ${id} does not exist`, { details: { where: 'path', field: 'id' } });
  }

  // ---- synthetic data ---------------------------------------------------------------------------

  /**
   * Empty storage_ids: the model goes `training` on a synthesize task `<model>-synth-<n>` (n = the
   * transition that starts it) at the default site, or at the site of the ontology's dataset. What
   * follows is driven by the task's end (afterSynthesis), the dataset's profile (afterDataset) and
   * the sweeper (repairSynthetic), each step idempotent and fenced.
   */
  private async trainSynthetic(m: RegistryModelDoc, ontology: OntologyDoc, config: RegistryTrainingConfig): Promise<RegistryModelDoc> {
    const taskId = synthTaskId(m.id, m.seq + 1);
    const { model } = await this.transition(m.id, {
      to: 'training',
      cause: 'train',
      digest: digestOf({ train: taskId }),
      fields: {
        job_id: null,
        engine_model_id: null,
        storage_ids: [],
        training_config: config,
        trained_on_synthetic_data: true,
        trained_on: 'synthetic',
        synthetic_task: taskId,
        synthetic_dataset_id: null,
        status_reason: null,
        model_artifact_path: null,
      },
    });
    await this.queueSynthesis(model, ontology);
    return model;
  }

  private async queueSynthesis(m: RegistryModelDoc, ontology: OntologyDoc): Promise<void> {
    const source = ontology.dataset_id ? await this.datasets.findOne({ _id: ontology.dataset_id }, { projection: { site: 1 } }) : null;
    const fields = ontology.fields.map((f) => ({ name: f.name, type: f.type, role: f.role, ...(f.choices ? { choices: f.choices } : {}) }));
    await this.engine.queueSynthesis({
      id: m.synthetic_task!,
      model: m.id,
      owner: m.owner,
      site: source?.site ?? DEFAULT_SITE,
      ontology: { fields },
      n_rows: SYNTHETIC_ROWS,
      seed: m.training_config.random_seed ?? 42,
    });
  }

  /** The synthesize row's follow-up: its CSV registered as the owner's synthetic dataset (its profile task queued), or the model failed. */
  async afterSynthesis(taskId: string): Promise<void> {
    const task = await this.engine.synthesisTask(taskId);
    if (!task || !['done', 'failed', 'canceled'].includes(task.status)) return;
    const m = await this.r.models.findOne({ synthetic_task: taskId });
    if (!m || m.status !== 'training' || m.job_id) return;
    if (task.status !== 'done' || !task.data_storage_uuid) {
      await this.fail(m.id, `synthetic data could not be made: ${task.failure_reason ?? task.status}`).catch((e: Error) => {
        if (!(e instanceof IllegalTransitionError)) throw e;
      });
      return;
    }
    const d = await this.engine.registerDataset(
      { name: `synthetic data of ${m.name}`, storage_uuid: task.data_storage_uuid, format: 'csv', site: task.site },
      { name: m.owner, roles: ['data-provider'] },
      { id: synthDatasetId(taskId), synthetic: true },
    );
    await this.r.models.updateOne(
      { _id: m.id, synthetic_task: taskId },
      { $set: { synthetic_dataset_id: d.dataset_id, storage_ids: [d.dataset_id], updated_at: new Date() } },
    );
    if (d.status !== 'profiling') await this.afterDataset(d);
  }

  /**
   * A synthetic dataset's profile ended: the engine job starts (once: the insert fence
   * `<task>/job` in the registry's fences), or the model fails.
   */
  async afterDataset(d: DatasetDoc): Promise<void> {
    if (!d.synthetic || !d.dataset_id.endsWith('-ds')) return;
    const taskId = d.dataset_id.slice(0, -'-ds'.length);
    const m = await this.r.models.findOne({ synthetic_task: taskId });
    if (!m || m.status !== 'training' || m.job_id) return;
    if (d.status === 'failed' || !d.profile) {
      await this.fail(m.id, `synthetic data could not be profiled: ${d.failure_reason ?? d.status}`).catch((e: Error) => {
        if (!(e instanceof IllegalTransitionError)) throw e;
      });
      return;
    }
    const ontology = await this.r.ontologies.findOne({ _id: m.ontology_id });
    if (!ontology) return void (await this.fail(m.id, `ontology ${m.ontology_id} no longer exists`).catch(() => undefined));
    try {
      await (this.r.fences as unknown as Collection<{ _id: string; model: string; at: Date }>).insertOne({ _id: `${taskId}/job`, model: m.id, at: new Date() });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return; // another replica (or an earlier call) starts it
    }
    let request: JobRequest;
    try {
      request = jobRequestOf(m, ontology, d, m.training_config);
    } catch (err) {
      return void (await this.fail(m.id, (err as Error).message).catch(() => undefined));
    }
    const job = await this.engine.submit(request, { name: m.owner, roles: ['data-provider'] }).catch(async (err: Error) => {
      await this.fail(m.id, `the training could not start: ${err.message}`).catch(() => undefined);
      return null;
    });
    if (!job) return;
    const r = await this.r.models.updateOne(
      { _id: m.id, status: 'training', synthetic_task: taskId, job_id: null },
      { $set: { job_id: job.job_id, updated_at: new Date() } },
    );
    if (r.modifiedCount !== 1) await this.engine.cancel(job.job_id, { name: m.owner, roles: ['admin'] }).catch(() => undefined);
    else this.logger.info('registry synthetic training started', { model: m.id, dataset: d.dataset_id, job: job.job_id });
  }

  /** The sweeper's repair of synthetic trainings a crash interrupted: a missing task, a missed follow-up. */
  async repairSynthetic(olderThan: Date, batch: number): Promise<number> {
    let n = 0;
    for (const m of await this.r.models.find({ status: 'training', job_id: null }).limit(batch).toArray()) {
      if (!m.synthetic_task || m.updated_at > olderThan) continue;
      const task = await this.engine.synthesisTask(m.synthetic_task);
      if (!task) {
        const ontology = await this.r.ontologies.findOne({ _id: m.ontology_id });
        if (ontology) await this.queueSynthesis(m, ontology);
      } else if (['done', 'failed', 'canceled'].includes(task.status)) {
        const d = await this.datasets.findOne({ _id: synthDatasetId(task._id) });
        if (!d) await this.afterSynthesis(task._id);
        else if (d.status !== 'profiling') await this.afterDataset(d);
        else continue; // the engine's repair re-drives its profile
      } else continue;
      n++;
    }
    return n;
  }

  /** The engine job's end drives the same transition as the callbacks. */
  async afterJob(job: JobDoc): Promise<void> {
    const models = await this.r.models.find({ job_id: job.job_id }).toArray();
    for (const m of models) {
      if (m.status !== 'training') continue;
      const digest = digestOf({ job: job.job_id, status: job.status });
      try {
        if (job.status === 'completed' && job.model_id) {
          const em = await this.engineModels.findOne({ _id: job.model_id });
          if (!em) continue;
          const { performance, training } = registryMetricsOf(em.report);
          await this.transition(m.id, {
            to: 'trained',
            expect: 'training',
            cause: 'job',
            digest,
            fields: {
              model_artifact_path: artifactPath(em.site, em.model_storage_uuid),
              performance_metrics: performance,
              training_metrics: training,
              engine_model_id: em.model_id,
              status_reason: null,
            },
          });
        } else if (job.status === 'failed') {
          await this.transition(m.id, {
            to: 'failed',
            expect: 'training',
            cause: 'job',
            digest,
            fields: { status_reason: job.failure_reason ?? 'training failed' },
          });
        } else if (job.status === 'canceled') {
          await this.transition(m.id, { to: 'draft', expect: 'training', cause: 'job', digest, fields: { status_reason: job.failure_reason ?? 'canceled' } });
        }
      } catch (err) {
        // A callback already ended this training: its outcome stands.
        if (!(err instanceof IllegalTransitionError)) throw err;
      }
    }
  }

  // ---- recommend ------------------------------------------------------------------------------

  async recommend(input: { project_id: string; ontology_id: string }, by: Principal): Promise<Recommendation> {
    const o = await this.ontology(input.ontology_id, by, 'body');
    if (o.project_id !== input.project_id)
      throw new UnprocessableError(`ontology ${o.ontology_id} belongs to project ${o.project_id}`, {
        code: 'UNKNOWN_ONTOLOGY',
        details: { where: 'body', field: 'ontology_id' },
      });
    const d = o.dataset_id ? await this.datasets.findOne({ _id: o.dataset_id }) : null;
    return recommendModelType(o, d?.profile ?? null);
  }

  /** In-process listeners of recorded events (the WebSocket hears other replicas through the exchange). */
  onEvent(listener: (e: ModelEventDoc) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
