import crypto from 'node:crypto';
import type { Principal } from '../../shared/auth/api-keys';
import type { AkkioStatus, AkkioTrainRequest, DatasetProfile, JobStatus, TaskKind, ValidationProblem } from '../../shared/contracts/training-contract';
import { UpletError } from '../../shared/errors/uplet-error';
import { isDuplicateKey, type Collections } from '../persistence/collections';
import type { EventPublisher } from '../work/event-publisher';
import { estimateSeconds, tierPlan } from './budget';
import { findColumn, inferTaskKind } from './dataset-profile';
import type { EngineModelDoc, JobDoc } from './engine-documents';
import { familySupports } from './families';
import { akkioStatus } from './job-status';
import { inputFields, validateAkkioTrain } from './request-validation';
import type { JobRequest, TrainingEngine } from './training-engine';

/**
 * The Akkio-style asynchronous training API (seeds 000/001) on the training engine: one engine
 * job per predict field, grouped under one task id. This module holds the group (`akkio_tasks`),
 * the `force` identity and the `Idempotency-Key` fences (`akkio_keys`), and reads the jobs'
 * statuses and models into the seed's status and result shapes. Nothing here touches rows.
 */

/** One member of a task: the engine job training the model of one predict field. */
export interface AkkioMember {
  field: string;
  task_kind: TaskKind;
  job_id: string;
}

export interface AkkioTaskDoc {
  _id: string;
  task_id: string;
  owner: string;
  /** sha256 of the `force` identity (owner, dataset, predict fields, ignored fields, duration, extra_attention). */
  identity: string;
  request: Omit<AkkioTrainRequest, 'force'>;
  /** The submitting key's roles (the repair submits the jobs as it). */
  owner_roles?: string[];
  /** requestHashOf the submitted body: a retry under the same Idempotency-Key must carry the same. */
  request_hash?: string;
  /** The fences this task must win before its jobs start (kept so that the repair can finish an interrupted submission). */
  key_fence?: string | null;
  identity_fence?: string | null;
  /** Filled once every job is submitted; empty while submitting (or if the submission was interrupted). */
  members: AkkioMember[];
  submitted: boolean;
  /** False until the task has won its fences (Idempotency-Key, identity): until then no other request reuses it. */
  fenced: boolean;
  failure_reason: string | null;
  timestamp_creation: Date;
}

/** An `Idempotency-Key` (`key/<owner>/<key>`) or an identity (`identity/<hash>`) fence → the task it names. */
export interface AkkioKeyDoc {
  _id: string;
  task_id: string;
  at: Date;
  /** A key's fence: requestHashOf the body that first used it. */
  request_hash?: string;
}

/** An Akkio-path refusal: `status {detail: [{loc, msg, type}]}` (seed 001's shape, for 404/409/422 alike). */
export class AkkioProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: ValidationProblem[],
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail[0]?.msg ?? 'refused');
  }
}

export interface AkkioStatusView {
  status: AkkioStatus;
  metadata: { type: AkkioStatus; estimate_seconds?: number; location?: string; error?: string };
}

export function identityOf(
  owner: string,
  r: Pick<AkkioTrainRequest, 'dataset_id' | 'predict_fields' | 'ignore_fields' | 'duration' | 'extra_attention'>,
): string {
  const key = JSON.stringify([owner, r.dataset_id, r.predict_fields, [...r.ignore_fields].sort(), r.duration, r.extra_attention]);
  return crypto.createHash('sha256').update(key).digest('hex');
}

/** The id of a task's job for its i-th predict field: deterministic, so a repeated submission finds the job instead of making another. */
export const memberJobId = (taskId: string, i: number) => `job-${taskId.replace(/^akkio-/, '')}-${i}`;

/**
 * What makes two submissions "the same request" for an Idempotency-Key: every field of the
 * validated body (defaults applied; ignored properties left out; ignore_fields in any order).
 */
export function requestHashOf(r: AkkioTrainRequest): string {
  const key = JSON.stringify([r.dataset_id, r.predict_fields, [...r.ignore_fields].sort(), r.duration, r.extra_attention, r.force]);
  return crypto.createHash('sha256').update(key).digest('hex');
}

/**
 * The task a key names, if this request is the one it was first used with; a key reused with
 * another body is refused (422: draft-ietf-httpapi-idempotency-key-header) and changes nothing.
 */
function sameBody(fence: AkkioKeyDoc, requestHash: string | undefined): string {
  // Fences and tasks recorded before bodies were hashed carry none: not comparable, answered as before.
  if (fence.request_hash === undefined || requestHash === undefined || fence.request_hash === requestHash) return fence.task_id;
  throw new AkkioProblem(422, [
    {
      loc: ['header', 'Idempotency-Key'],
      msg: `this Idempotency-Key was already used with a different request body (task ${fence.task_id}); use a new key for a new request`,
      type: 'value_error.idempotency_key_reused',
    },
  ]);
}

const notFound = (taskId: string) => new AkkioProblem(404, [{ loc: ['path', 'task_id'], msg: `no training task ${taskId}`, type: 'value_error.not_found' }]);

export class AkkioTraining {
  constructor(
    private readonly c: Collections,
    private readonly engine: TrainingEngine,
    private readonly events?: EventPublisher,
  ) {}

  /**
   * Submits a training task, or answers an existing one's id: the task an `Idempotency-Key`
   * already named; without `force`, an identical request's task that is running or succeeded.
   * Returns `{task_id, created}`.
   */
  async submit(request: AkkioTrainRequest, owner: Principal, idempotencyKey: string | null): Promise<{ task_id: string; created: boolean }> {
    const keyId = idempotencyKey ? `key/${owner.name}/${idempotencyKey}` : null;
    const bodyHash = requestHashOf(request);
    if (keyId) {
      const seen = await this.c.akkioKeys.findOne({ _id: keyId });
      if (seen) return { task_id: sameBody(seen, bodyHash), created: false };
    }
    const profile = await this.readyProfile(request.dataset_id, owner);
    const problems = validateAkkioTrain(profile, request);
    if (problems.length > 0) throw new AkkioProblem(422, problems);

    const identity = identityOf(owner.name, request);
    let identityFence: string | null = null;
    if (!request.force) {
      const { reuse, newest } = await this.reusable(identity, owner);
      if (reuse) return { task_id: keyId ? sameBody(await this.fenceKey(keyId, reuse, bodyHash), bodyHash) : reuse, created: false };
      // Two identical requests at once both find nothing to reuse: they race for this fence (named
      // after the newest task they saw), and the loser answers the winner's task.
      identityFence = `identity/${identity}/after/${newest ?? 'none'}`;
    }
    const taskId = `akkio-${crypto.randomBytes(8).toString('hex')}`;
    const { force: _force, ...kept } = request;
    const doc: AkkioTaskDoc = {
      _id: taskId,
      task_id: taskId,
      owner: owner.name,
      owner_roles: [...owner.roles],
      identity,
      request: kept,
      request_hash: bodyHash,
      key_fence: keyId,
      identity_fence: identityFence,
      members: [],
      submitted: false,
      fenced: false,
      failure_reason: null,
      timestamp_creation: new Date(),
    };
    await this.c.akkioTasks.insertOne(doc);
    return this.startTask(doc, profile);
  }

  /**
   * The rest of a submission, from the recorded task on: its fences, then one job per predict
   * field, then `submitted`. Every step is idempotent (insert fences; jobs with deterministic
   * ids), so `repair` re-runs it for a task whose orchestrator stopped half-way.
   */
  private async startTask(t: AkkioTaskDoc, profile: DatasetProfile): Promise<{ task_id: string; created: boolean }> {
    const taskId = t.task_id;
    const owner: Principal = { name: t.owner, roles: (t.owner_roles ?? []) as Principal['roles'] };
    if (!t.fenced) {
      // The key's fence: of two concurrent retries one wins; the loser withdraws its task and answers the winner's.
      if (t.key_fence) {
        const winner = await this.fenceKey(t.key_fence, taskId, t.request_hash ?? null);
        if (winner.task_id !== taskId) {
          await this.c.akkioTasks.deleteOne({ _id: taskId, submitted: false });
          return { task_id: sameBody(winner, t.request_hash), created: false };
        }
      }
      if (t.identity_fence) {
        const winner = await this.fenceKey(t.identity_fence, taskId, null);
        if (winner.task_id !== taskId) {
          await this.c.akkioTasks.deleteOne({ _id: taskId, submitted: false });
          // This request's key (won above) now names the task that won the identity.
          if (t.key_fence) await this.c.akkioKeys.updateOne({ _id: t.key_fence, task_id: taskId }, { $set: { task_id: winner.task_id } });
          return { task_id: winner.task_id, created: false };
        }
      }
      await this.c.akkioTasks.updateOne({ _id: taskId }, { $set: { fenced: true } });
    }
    const request: AkkioTrainRequest = { ...t.request, force: false };
    const deadline = new Date(t.timestamp_creation.getTime() + request.duration * 1000);
    try {
      // The fields' jobs are submitted together (each creates and dispatches its first trials).
      const members: AkkioMember[] = await Promise.all(
        request.predict_fields.map(async (field, i) => {
          const taskKind = inferTaskKind(findColumn(profile, field)!)!;
          const job = await this.engine.submit(this.jobRequest(request, field, taskKind), owner, { id: memberJobId(taskId, i), deadline });
          return { field, task_kind: taskKind, job_id: job.job_id };
        }),
      );
      await this.c.akkioTasks.updateOne({ _id: taskId }, { $set: { members, submitted: true } });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      await this.c.akkioTasks.updateOne({ _id: taskId }, { $set: { failure_reason: `the training jobs could not be submitted: ${reason}` } });
      // The fields already submitted would train for nothing: canceled (best effort; the task reads FAILED either way).
      for (const [i] of request.predict_fields.entries()) await this.engine.cancel(memberJobId(taskId, i), owner).catch(() => undefined);
      throw err;
    }
    // The engine announces each member job's changes (subject `job`); this announces the task that groups them.
    this.events?.publish({
      subject: 'akkio_task',
      id: taskId,
      status: 'PENDING',
      scope: { dataset: request.dataset_id, owner: owner.name },
      detail: { jobs: request.predict_fields.length },
    });
    return { task_id: taskId, created: true };
  }

  /**
   * The sweeper's repair (through the engine's): tasks recorded longer ago than `olderThan` whose
   * submission did not finish (the orchestrator stopped between the task and its jobs) are
   * started now, from where they stopped. Returns how many were re-driven.
   */
  async repair(olderThan: Date, batch: number): Promise<number> {
    let n = 0;
    for (const t of await this.c.akkioTasks.find({ submitted: false }).limit(batch).toArray()) {
      if (t.timestamp_creation > olderThan || t.failure_reason) continue;
      const d = await this.c.datasets.findOne({ _id: t.request.dataset_id });
      if (!d?.profile) {
        await this.c.akkioTasks.updateOne({ _id: t._id }, { $set: { failure_reason: `dataset ${t.request.dataset_id} is no longer ready` } });
        continue;
      }
      await this.startTask(t, d.profile).catch(() => undefined); // a failure is recorded on the task (FAILED), or retried next sweep
      n++;
    }
    return n;
  }

  /**
   * The engine job of one predict field: the tier's families and trial counts, the other predict
   * fields ignored. Its budget is the tier counted from the task's submission (jobDeadline): the
   * engine launches a round only while a trial and the final task still fit.
   */
  jobRequest(request: AkkioTrainRequest, field: string, taskKind: TaskKind): JobRequest {
    const plan = tierPlan(request.duration);
    const others = request.predict_fields.filter((f) => f !== field);
    return {
      dataset_id: request.dataset_id,
      label_column: field,
      task_kind: taskKind,
      filters: [],
      ignore_fields: [...new Set([...request.ignore_fields, ...others])],
      families: plan.families.filter((f) => familySupports(f, taskKind)),
      metrics: null,
      strategy: 'optuna',
      n_trials: plan.trialsPerFamily,
      evaluation: plan.nSplits === null ? { kind: 'holdout', train_fraction: 0.8 } : { kind: 'kfold', n_splits: plan.nSplits },
      class_weight: request.extra_attention && taskKind === 'classification' ? 'balanced' : null,
      random_state: 42,
      grid_size: null,
      ensemble: plan.ensemble,
      budget_seconds: null,
    };
  }

  private async readyProfile(datasetId: string, owner: Principal): Promise<DatasetProfile> {
    const loc = ['body', 'dataset_id'];
    const d = await this.c.datasets.findOne({ _id: datasetId });
    if (!d || (d.owner !== owner.name && !owner.roles.includes('admin')))
      throw new AkkioProblem(422, [{ loc, msg: `no dataset ${datasetId}`, type: 'value_error.unknown_dataset' }]);
    if (d.status !== 'ready' || !d.profile) {
      throw new AkkioProblem(409, [
        {
          loc,
          msg: `dataset ${datasetId} is ${d.status}${d.failure_reason ? ` (${d.failure_reason})` : ''}, not ready: wait for its profile, or register it again`,
          type: 'state_error.dataset_not_ready',
        },
      ]);
    }
    return d.profile;
  }

  /** The newest task of this identity that is running or succeeded (a failed one is not reused). */
  private async reusable(identity: string, owner: Principal): Promise<{ reuse: string | null; newest: string | null }> {
    // A task that has not won its fences yet may be withdrawn: not a candidate (nor the newest).
    const candidates = (await this.c.akkioTasks.find({ identity, owner: owner.name }).toArray()).filter((t) => t.fenced !== false);
    candidates.sort((a, b) => b.timestamp_creation.getTime() - a.timestamp_creation.getTime() || (a._id < b._id ? 1 : -1));
    for (const t of candidates) {
      const s = await this.statusOf(t);
      if (s.status !== 'FAILED' && s.status !== 'UNKNOWN_TIMEOUT') return { reuse: t.task_id, newest: candidates[0]!.task_id };
    }
    return { reuse: null, newest: candidates[0]?.task_id ?? null };
  }

  /** Inserts a fence naming `taskId` (with the request's hash, for a key), or reads the one that won. */
  private async fenceKey(keyId: string, taskId: string, requestHash: string | null): Promise<AkkioKeyDoc> {
    const fence: AkkioKeyDoc = { _id: keyId, task_id: taskId, at: new Date(), ...(requestHash ? { request_hash: requestHash } : {}) };
    try {
      await this.c.akkioKeys.insertOne(fence);
      return fence;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      return (await this.c.akkioKeys.findOne({ _id: keyId }))!;
    }
  }

  private async task(taskId: string, reader: Principal): Promise<AkkioTaskDoc> {
    const t = await this.c.akkioTasks.findOne({ _id: taskId });
    if (!t || (t.owner !== reader.name && !reader.roles.includes('admin'))) throw notFound(taskId);
    return t;
  }

  async status(taskId: string, reader: Principal): Promise<AkkioStatusView> {
    return this.statusOf(await this.task(taskId, reader));
  }

  private async jobsOf(t: AkkioTaskDoc): Promise<JobDoc[]> {
    const jobs = await Promise.all(t.members.map((m) => this.c.jobs.findOne({ _id: m.job_id })));
    return jobs.filter((j): j is JobDoc => j !== null);
  }

  /**
   * All jobs completed → SUCCEEDED; any failed or canceled → FAILED (with what went wrong and
   * what to do); none started → PENDING; else IN_PROGRESS with the estimate, or UNKNOWN_TIMEOUT
   * once the task outlived its tier by budget.unknownTimeoutMs's margin (tier × 1.5 + 30 s).
   */
  private async statusOf(t: AkkioTaskDoc): Promise<AkkioStatusView> {
    const tier = t.request.duration;
    const created = t.timestamp_creation.getTime();
    const now = Date.now();
    const view = (status: AkkioStatus, extra: Omit<AkkioStatusView['metadata'], 'type'>): AkkioStatusView => ({ status, metadata: { type: status, ...extra } });
    if (t.failure_reason) return view('FAILED', { error: `${t.failure_reason}. Submit the request again (with force: true).` });
    // Not submitted yet: being submitted, or interrupted and finished by the sweeper's repair.
    if (!t.submitted) {
      if (akkioStatus('pending', tier, created, now) === 'UNKNOWN_TIMEOUT') return view('UNKNOWN_TIMEOUT', { error: timedOut(tier) });
      return view('PENDING', { estimate_seconds: tier });
    }
    const jobs = await this.jobsOf(t);
    const bad = jobs.find((j) => j.status === 'failed' || j.status === 'canceled');
    if (bad) {
      const field = t.members.find((m) => m.job_id === bad.job_id)?.field ?? bad.label_column;
      return view('FAILED', { error: failureAdvice(field, bad.status, bad.failure_reason) });
    }
    if (jobs.length === t.members.length && jobs.every((j) => j.status === 'completed'))
      return view('SUCCEEDED', { location: `/models/train/${t.task_id}/result` });
    const overall: JobStatus = jobs.some((j) => j.status !== 'pending') ? 'running' : 'pending';
    const status = akkioStatus(overall, tier, created, now);
    if (status === 'UNKNOWN_TIMEOUT') return view(status, { error: timedOut(tier) });
    // The jobs run side by side: the slowest one's remaining time (budget and measured trials, budget.jobRemainingMs).
    const remaining = status === 'PENDING' ? tier * 1000 : Math.max(...(await Promise.all(jobs.map((j) => this.engine.remainingMs(j, now)))));
    const estimate = estimateSeconds(remaining);
    return view(status, { estimate_seconds: estimate });
  }

  /** The result once SUCCEEDED; AkkioProblem 409 carrying the status before. */
  async result(taskId: string, reader: Principal): Promise<Record<string, unknown>> {
    const t = await this.task(taskId, reader);
    const s = await this.statusOf(t);
    if (s.status !== 'SUCCEEDED') {
      throw new AkkioProblem(409, [{ loc: ['path', 'task_id'], msg: `the model is not ready: the task is ${s.status}`, type: 'state_error.not_ready' }], {
        status: s.status,
        metadata: s.metadata,
      });
    }
    const jobs = await this.jobsOf(t);
    const models = await Promise.all(jobs.map((j) => this.c.models.findOne({ _id: j.model_id ?? '' })));
    const profile = (await this.c.datasets.findOne({ _id: t.request.dataset_id }))?.profile ?? (await this.engine.jobProfile(jobs[0]!.job_id));
    return assembleResult(
      t,
      models.map((m) => m!),
      profile,
    );
  }
}

const timedOut = (tier: number) =>
  `the task has run past its ${tier} s budget by more than the allowed margin (tier × 1.5 + 30 s); it may still finish: poll again, or submit again with force: true`;

function failureAdvice(field: string, status: JobStatus, reason: string | null): string {
  if (status === 'canceled') return `the model for ${field} was canceled (${reason ?? 'canceled'}); submit the request again (with force: true) to train it`;
  const why = reason ?? 'unknown reason';
  const advice = /no trial succeeded/.test(why)
    ? 'no model could be fitted: check that the field has enough rows per value and that the other fields are usable, or choose a longer duration'
    : 'check the dataset (GET /v1/datasets/{id}) and submit again with force: true';
  return `training the model for ${field} failed: ${why}; ${advice}`;
}

type Report = {
  stats?: Array<Record<string, unknown>>;
  field_importance?: Record<string, number>;
  data_story?: Array<Record<string, unknown>>;
  metrics?: Record<string, number>;
};

/** The seed's result from the members' reports: stats per field, importance averaged over the fields (still summing to 1), one story per field. */
export function assembleResult(t: AkkioTaskDoc, models: EngineModelDoc[], profile: DatasetProfile): Record<string, unknown> {
  const byField = new Map(models.map((m) => [m.label_column, m]));
  const fields = t.request.predict_fields;
  const inputs = inputFields(profile, fields, t.request.ignore_fields);
  const stats = fields.map((field, i) => ((byField.get(field)?.report as Report | undefined)?.stats ?? []).map((s) => ({ ...s, field: i, field_name: field })));
  const importance: Record<string, number> = Object.fromEntries(inputs.map((f) => [f, 0]));
  for (const field of fields) {
    const fi = (byField.get(field)?.report as Report | undefined)?.field_importance ?? {};
    const total = inputs.reduce((sum, f) => sum + Math.max(0, fi[f] ?? 0), 0);
    for (const f of inputs) importance[f]! += total > 0 ? Math.max(0, fi[f] ?? 0) / total / fields.length : 1 / inputs.length / fields.length;
  }
  const dataStory = fields.flatMap((field) => {
    const story = (byField.get(field)?.report as Report | undefined)?.data_story ?? [];
    return story.map((entry) => ({ ...entry, name: field }));
  });
  const single = fields.length === 1 ? byField.get(fields[0]!) : undefined;
  return {
    status: 'success',
    model_id: single ? single.model_id : `${t.task_id}-models`,
    models: fields.map((field) => ({
      field,
      model_id: byField.get(field)?.model_id ?? null,
      task_kind: byField.get(field)?.task_kind ?? null,
      metrics: (byField.get(field)?.report as Report | undefined)?.metrics ?? {},
    })),
    stats,
    field_importance: importance,
    data_story: dataStory,
  };
}

export function isAkkioProblem(err: unknown): err is AkkioProblem {
  return err instanceof AkkioProblem;
}

/** Any other error of the engine as an Akkio detail (an UpletError keeps its status). */
export function asAkkioProblem(err: unknown): AkkioProblem | null {
  if (err instanceof AkkioProblem) return err;
  if (err instanceof UpletError && err.httpStatus < 500)
    return new AkkioProblem(err.httpStatus, [{ loc: ['body'], msg: err.message, type: `value_error.${err.code.toLowerCase()}` }]);
  return null;
}
