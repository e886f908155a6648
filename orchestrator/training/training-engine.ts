import crypto from 'node:crypto';
import type { OptionalUnlessRequiredId } from 'mongodb';
import type { Principal } from '../../shared/auth/api-keys';
import type { DatasetProfile, JobStatus } from '../../shared/contracts/training-contract';
import type { EngineSynthesizeTask, TeacherSpec } from '../../shared/contracts/work-contract';
import { ConflictError, NotFoundError, UnprocessableError } from '../../shared/errors/uplet-error';
import type { Logger } from '../../shared/logging/logger';
import { duplicateIndexes, isDuplicateKey, onlyDuplicateKeys, type Collections } from '../persistence/collections';
import { NO_EVENTS, type EventPublisher } from '../work/event-publisher';
import type { WorkDispatcher } from '../work/work-dispatcher';
import type { WorkLeases } from '../work/work-leases';
import { classCount, findColumn } from './dataset-profile';
import type {
  DatasetDoc,
  EngineModelDoc,
  FinalTaskDoc,
  JobDoc,
  JobSpec,
  JobWithProfile,
  JobTeacher,
  ProfileTaskDoc,
  SynthesizeTaskDoc,
  TeachTaskDoc,
  TrialDoc,
  TrialWorkItem,
  TrialRoundDoc,
} from './engine-documents';
import { chooseFamilies, type FamilyId } from './families';
import { fieldOf, validateJobRequest } from './job-request';
import { isFinalJobStatus, transitionJob } from './job-status';
import { resolveMetrics } from './metrics';
import {
  extendHistory,
  historyForRound,
  isFinished,
  nextRound,
  planStudy,
  roundCount,
  roundOf,
  roundTrialIndices,
  scalarObjective,
  storedAskForTrial,
  trialId,
  trialRoundId,
  trialSeed,
  withHistory,
  type StoredAsk,
  type StudyPlan,
  type TrialState,
} from './study-plan';
import { finalTaskEstimateMs, jobRemainingMs, measuredByFamily, shouldLaunch, type MeasuredTrial } from './budget';
import { FinishedTrials } from './finished-trials';
import { RecentMap } from '../../shared/recent-map';

/** A job request after Joi (job-request.ts `jobBody`). */
export type JobRequest = Omit<JobSpec, 'deadline' | 'families' | 'metrics'> & {
  families: string[] | null;
  metrics: string[] | null;
  budget_seconds: number | null;
};

/** The registry's side of a `synthesize` task: its follow-up and its repair. */
export interface SynthesisFollower {
  afterSynthesis(taskId: string): Promise<void>;
  repair(olderThan: Date, batch: number): Promise<number>;
}

export interface NewDataset {
  name: string;
  storage_uuid: string;
  format: 'csv';
  site: string;
}

/** What a job's reader sees of its teacher: never its headers nor its URL (which may carry a token). */
export interface TeacherView {
  kind: 'url' | 'model';
  model_id: string | null;
  /** The teach task's status, and its reason when it failed. */
  status: string;
  failure_reason: string | null;
  /** Training rows the teacher predicted (once done). */
  rows: number | null;
}

/** What `GET /v1/jobs/{id}` shows: the job, its progress, its trials, its model. */
export interface JobView {
  job: Omit<JobDoc, '_id' | 'teacher'>;
  teacher: TeacherView | null;
  progress: {
    trials_done: number;
    trials_failed: number;
    trials_total: number;
    best_so_far: { trial: string; family: string; objective: number; metrics: Record<string, number> } | null;
    elapsed_seconds: number;
    estimate_seconds: number | null;
  };
  trials: Array<{
    trial: string;
    row: number;
    index: number;
    family: string;
    status: string;
    attempt: number;
    params: unknown;
    metrics: Record<string, number> | null;
    failure_reason: string | null;
  }>;
}

/** Caruana ensemble selection steps (with replacement, from the best single model). */
export const ENSEMBLE_STEPS = 25;
const ENGINE: Principal = { name: 'uplet:training-engine', roles: [] };
const TERMINAL_TASK = new Set(['done', 'failed', 'canceled']);

export const profileTaskId = (datasetId: string) => `${datasetId}-profile`;
export const finalTaskId = (jobId: string) => `${jobId}-final`;
export const teachTaskId = (jobId: string) => `${jobId}-teach`;
export const modelIdOf = (jobId: string) => `${jobId}-model`;

/**
 * The training engine: datasets and their profiles, jobs compiled into trials in rounds, the
 * final refit and the model. Every task is a row of the per-kind table (profile, trial, final)
 * and runs under the same leases; this class holds what follows a task's end (the `finish` of
 * each row), each step idempotent: trials and the final task have deterministic ids and are
 * inserted tolerating duplicates, and a job's status changes only by the winner of a fence.
 * `repair` re-drives what a crash interrupted (the sweeper calls it through repairFollowUps).
 */
/** Round histories kept in memory (a round's is under 1 KB to some tens of KB at 1,000 trials: at most ~10 MB). */
const ROUND_HISTORIES_KEPT = 512;
/** A job read without its dataset's profile. */
const WITHOUT_PROFILE = { projection: { profile: 0 } } as const;
/** Job profiles kept in memory (a few KB each). */
const JOB_PROFILES_KEPT = 256;
/** Running jobs remembered for trial ends (a JobDoc without its profile, ~1 KB each). */
const RUNNING_JOBS_KEPT = 256;
/** Finished trials kept in memory for job views (a few hundred bytes each: at most some tens of MB). */
const FINISHED_TRIALS_KEPT = 100_000;

export class TrainingEngine {
  private leases?: WorkLeases;
  private events: EventPublisher = NO_EVENTS;
  private readonly endListeners: Array<(job: JobDoc) => Promise<void>> = [];
  /**
   * Round histories by round id, most recent last. A round document is written once and never
   * changed, so a copy serves every claim of its round's trials and the next round's extension
   * without a read (on FerretDB each read is milliseconds of its CPU).
   */
  private readonly roundHistories = new RecentMap<string, TrialRoundDoc['history']>(ROUND_HISTORIES_KEPT);
  /** Jobs' dataset profiles by job id (a job's never changes), for trials' work items. */
  private readonly jobProfiles = new RecentMap<string, DatasetProfile>(JOB_PROFILES_KEPT);
  /**
   * Jobs seen running, by id, for what never changes once a job runs (its plan, deadline and fixed
   * params): a trial's end whose round is still open needs nothing else, so it reads no job.
   */
  private readonly runningJobs = new RecentMap<string, JobDoc>(RUNNING_JOBS_KEPT);
  /** Finished trials (which never change) of recently viewed jobs, as a job view reads them. */
  private readonly finishedTrials = new FinishedTrials<TrialDoc>(FINISHED_TRIALS_KEPT);

  private rememberRound(id: string, history: TrialRoundDoc['history']): void {
    this.roundHistories.set(id, history);
  }

  /** A round's stored history, from memory when this process wrote or read it lately. */
  private async roundHistory(id: string): Promise<TrialRoundDoc['history'] | undefined> {
    const known = this.roundHistories.get(id);
    if (known) return known;
    const stored = await this.c.trialRounds.findOne({ _id: id }, { projection: { history: 1 } });
    if (stored) this.rememberRound(id, stored.history);
    return stored?.history;
  }

  constructor(
    private readonly c: Collections,
    private readonly dispatcher: WorkDispatcher,
    private readonly logger: Logger,
  ) {}

  /** The leases are built on the per-kind table that holds this engine: handed over once both exist. */
  useLeases(leases: WorkLeases): void {
    this.leases = leases;
  }

  /** Job status changes are announced on the events exchange (`subject: 'job'`), once each, by the fence's winner. */
  useEvents(events: EventPublisher): void {
    this.events = events;
  }

  private announce(job: JobDoc, status: JobStatus, reason: string | null): void {
    this.events.publish({
      subject: 'job',
      id: job.job_id,
      status,
      scope: { job: job.job_id, dataset: job.dataset_id, owner: job.owner },
      ...(reason ? { detail: { reason } } : {}),
    });
  }

  /** Called once a job has ended (by the winner of its end fence); front doors follow their jobs with it. */
  onJobEnd(listener: (job: JobDoc) => Promise<void>): void {
    this.endListeners.push(listener);
  }

  // ---- datasets -------------------------------------------------------------------------------

  /**
   * Registers a dataset and queues its profile task. The dataset is inserted first, then its
   * task: if the task insert fails the dataset is marked failed with the reason; if the process
   * dies in between, the sweeper (repairDatasets) inserts the missing task. Nothing stays
   * half-registered. The blob's existence and ownership are checked by the profile task at the
   * site (the orchestrator does not talk to gateways): a missing or foreign blob fails it.
   */
  async registerDataset(input: NewDataset, owner: Principal, options: { id?: string; synthetic?: boolean } = {}): Promise<DatasetDoc> {
    const id = options.id ?? `ds-${crypto.randomBytes(10).toString('hex')}`;
    const now = new Date();
    const doc: DatasetDoc = {
      _id: id,
      dataset_id: id,
      name: input.name,
      storage_uuid: input.storage_uuid,
      format: input.format,
      site: input.site,
      owner: owner.name,
      status: 'profiling',
      failure_reason: null,
      profile: null,
      profile_task: profileTaskId(id),
      timestamp_upload: now,
      timestamp_ready: null,
      ...(options.synthetic ? { synthetic: true } : {}),
    };
    try {
      await this.c.datasets.insertOne(doc);
    } catch (err) {
      // A deterministic id (a synthetic dataset) is an insert fence: whoever lost it re-drives the winner's profile task.
      if (!options.id || !isDuplicateKey(err)) throw err;
      const existing = (await this.c.datasets.findOne({ _id: id }))!;
      if (existing.status === 'profiling') await this.ensureProfileTask(existing);
      return existing;
    }
    try {
      await this.ensureProfileTask(doc);
    } catch (err) {
      const reason = `the profile task could not be queued: ${(err as Error).message}`;
      await this.c.datasets.updateOne({ _id: id, status: 'profiling' }, { $set: { status: 'failed', failure_reason: reason } });
      return { ...doc, status: 'failed', failure_reason: reason };
    }
    return doc;
  }

  private async ensureProfileTask(d: DatasetDoc): Promise<void> {
    const now = new Date();
    const task: ProfileTaskDoc = {
      _id: d.profile_task,
      uuid: d.profile_task,
      dataset: d.dataset_id,
      storage_uuid: d.storage_uuid,
      owner: d.owner,
      site: d.site,
      profile: null,
      status: 'todo',
      worker: null,
      attempt: 0,
      failure_reason: null,
      timestamp_todo: now,
      timestamp_claimed: null,
      timestamp_done: null,
      timestamp_creation: now,
    };
    try {
      await this.c.profileTasks.insertOne(task);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    await this.dispatcher.dispatch('profile', [task._id], task.site);
  }

  /** After a profile task ended (done or failed for good): the dataset is ready or failed, once. */
  async afterProfile(taskId: string): Promise<void> {
    const task = await this.c.profileTasks.findOne({ _id: taskId });
    if (!task || !TERMINAL_TASK.has(task.status)) return;
    const update =
      task.status === 'done' && task.profile
        ? { status: 'ready' as const, profile: task.profile, timestamp_ready: new Date(), failure_reason: null }
        : { status: 'failed' as const, failure_reason: task.failure_reason ?? `profile task ${task.status}` };
    await this.c.datasets.updateOne({ _id: task.dataset, status: 'profiling' }, { $set: update });
    const d = await this.c.datasets.findOne({ _id: task.dataset });
    if (d && d.status !== 'profiling') for (const l of this.datasetListeners) await l(d);
  }

  private readonly datasetListeners: Array<(d: DatasetDoc) => Promise<void>> = [];
  private synthesis: SynthesisFollower = { afterSynthesis: async () => undefined, repair: async () => 0 };

  /** Called each time a dataset's profile has ended (ready or failed); idempotent listeners only (repairs call it again). */
  onDatasetEnd(listener: (d: DatasetDoc) => Promise<void>): void {
    this.datasetListeners.push(listener);
  }

  /** What follows a `synthesize` task (the registry's): handed over once the registry exists. */
  followSynthesis(follower: SynthesisFollower): void {
    this.synthesis = follower;
  }

  /** The synthesize row's follow-up (after its task ended: done or failed for good). */
  async afterSynthesis(taskId: string): Promise<void> {
    await this.synthesis.afterSynthesis(taskId);
  }

  /** Inserts a synthesize task (its deterministic id is its insert fence) and queues it at its site. */
  async queueSynthesis(input: Omit<EngineSynthesizeTask, 'uuid' | 'attempt'> & { id: string }): Promise<void> {
    const now = new Date();
    const { id, ...spec } = input;
    const task: SynthesizeTaskDoc = {
      ...spec,
      _id: id,
      uuid: id,
      data_storage_uuid: null,
      result: null,
      status: 'todo',
      worker: null,
      attempt: 0,
      failure_reason: null,
      timestamp_todo: now,
      timestamp_claimed: null,
      timestamp_done: null,
      timestamp_creation: now,
    };
    try {
      await this.c.synthesizeTasks.insertOne(task);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    await this.dispatcher.dispatch('synthesize', [id], task.site);
  }

  async synthesisTask(id: string): Promise<SynthesizeTaskDoc | null> {
    return this.c.synthesizeTasks.findOne({ _id: id });
  }

  /** The synthesize row's repair: follow-ups a crash interrupted. */
  async repairSynthesis(olderThan: Date, batch: number): Promise<number> {
    return this.synthesis.repair(olderThan, batch);
  }

  async dataset(id: string, reader: Principal): Promise<DatasetDoc> {
    const d = await this.c.datasets.findOne({ _id: id });
    // Another provider's dataset is not even said to exist.
    if (!d || (d.owner !== reader.name && !reader.roles.includes('admin')))
      throw new NotFoundError(`dataset ${id} does not exist`, { details: { where: 'path', field: 'id' } });
    return d;
  }

  async listDatasets(owner: Principal, limit: number, offset: number): Promise<DatasetDoc[]> {
    return this.c.datasets.find({ owner: owner.name }).sort({ timestamp_upload: 1, _id: 1 }).skip(offset).limit(limit).toArray();
  }

  /** The caller's jobs (an admin's: all), newest first, without their profiles; optionally of one dataset. */
  async listJobs(owner: Principal, limit: number, offset: number, datasetId?: string): Promise<JobListItem[]> {
    const filter = { ...(owner.roles.includes('admin') ? {} : { owner: owner.name }), ...(datasetId ? { dataset_id: datasetId } : {}) };
    const docs = await this.c.jobs.find(filter).sort({ timestamp_creation: -1, _id: 1 }).skip(offset).limit(limit).toArray();
    return docs.map((j) => ({
      job_id: j.job_id,
      dataset_id: j.dataset_id,
      owner: j.owner,
      site: j.site,
      status: j.status,
      failure_reason: j.failure_reason,
      label_column: j.label_column,
      task_kind: j.task_kind,
      families: j.families,
      metrics: j.metrics,
      n_trials: j.n_trials,
      model_id: j.model_id,
      timestamp_creation: j.timestamp_creation,
      timestamp_done: j.timestamp_done,
    }));
  }

  /** A model the engine produced; its owner's (or an admin's) to read and to predict with. */
  async model(id: string, reader: Principal): Promise<EngineModelDoc> {
    const m = await this.c.models.findOne({ _id: id });
    if (!m || (m.owner !== reader.name && !reader.roles.includes('admin')))
      throw new NotFoundError(`model ${id} does not exist`, { details: { where: 'path', field: 'id' } });
    return m;
  }

  // ---- jobs -----------------------------------------------------------------------------------

  /**
   * Validates a job against its dataset's profile (422 naming the field), stores it pending and
   * starts it. A caller-chosen `id` is an insert fence: submitting it again starts the existing job.
   * `deadline` (instead of `budget_seconds`): when the model is due, for a budget counted from
   * before the job (an Akkio task's submission). With a teacher, its teach task is inserted first
   * (waiting, holding the teacher's headers), so the job never exists without it; the job's first
   * advance releases it.
   */
  async submit(request: JobRequest, owner: Principal, options: { id?: string; deadline?: Date; teacher?: TeacherSpec | null } = {}): Promise<JobDoc> {
    const dataset = await this.c.datasets.findOne({ _id: request.dataset_id });
    if (!dataset || (dataset.owner !== owner.name && !owner.roles.includes('admin'))) {
      throw new UnprocessableError(`dataset ${request.dataset_id} does not exist`, {
        code: 'UNKNOWN_DATASET',
        details: { where: 'body', field: 'dataset_id' },
      });
    }
    if (dataset.status !== 'ready' || !dataset.profile) {
      throw new ConflictError(`dataset ${dataset.dataset_id} is ${dataset.status}${dataset.failure_reason ? ` (${dataset.failure_reason})` : ''}, not ready`, {
        code: 'DATASET_NOT_READY',
        details: { where: 'body', field: 'dataset_id', status: dataset.status },
      });
    }
    const profile = dataset.profile;
    const problems = validateJobRequest(profile, request as never);
    if (problems.length > 0) {
      throw new UnprocessableError(`${fieldOf(problems[0]!.loc)}: ${problems[0]!.msg}`, {
        code: 'INVALID_JOB',
        details: { where: 'body', field: fieldOf(problems[0]!.loc), problems },
      });
    }
    const label = findColumn(profile, request.label_column)!;
    const families = chooseFamilies(request.families, {
      rows: profile.row_count,
      features: profile.columns.length - 1 - request.ignore_fields.length,
      taskKind: request.task_kind,
      ...(request.task_kind === 'classification' ? { classCount: classCount(label) } : {}),
    });
    const metrics = resolveMetrics(request.metrics, request.task_kind);
    const id = options.id ?? `job-${crypto.randomBytes(8).toString('hex')}`;
    const now = new Date();
    const { budget_seconds: budget, ...spec } = request;
    const job: JobWithProfile = {
      ...spec,
      families,
      metrics,
      deadline: options.deadline ?? (budget ? new Date(now.getTime() + budget * 1000) : null),
      _id: id,
      job_id: id,
      owner: owner.name,
      site: dataset.site,
      storage_uuid: dataset.storage_uuid,
      profile,
      status: 'pending',
      failure_reason: null,
      final_task: null,
      model_id: null,
      timestamp_creation: now,
      timestamp_start: null,
      timestamp_done: null,
    };
    if (options.teacher) {
      const t = options.teacher;
      job.teacher = {
        ...(t.kind === 'url' ? { kind: 'url', url: t.url } : { kind: 'model', model_id: t.model_id }),
        teach_task: teachTaskId(id),
        targets_storage_uuid: null,
        rows: null,
      };
      await this.c.teachTasks.insertOne(this.teachDoc(job, t));
    }
    // The profile first: a job is never found without it (a lost race repeats the same profile).
    await insertTolerant(this.c.jobProfiles, [{ _id: id, profile }]);
    const { profile: _kept, ...stored } = job;
    try {
      await this.c.jobs.insertOne(stored);
      this.announce(job, 'pending', null);
    } catch (err) {
      if (!options.id || !isDuplicateKey(err)) throw err;
    }
    await this.advance(id);
    return (await this.c.jobs.findOne({ _id: id })) ?? job;
  }

  /** The job with its progress and trials; only its owner (or an admin) sees it. */
  async get(jobId: string, reader: Principal): Promise<JobView> {
    const job = await this.c.jobs.findOne({ _id: jobId });
    if (!job || (job.owner !== reader.name && !reader.roles.includes('admin')))
      throw new NotFoundError(`job ${jobId} does not exist`, { details: { where: 'path', field: 'id' } });
    const plan = this.planOf(job);
    const trials = await this.viewTrials(job, plan);
    trials.sort((a, b) => a.row - b.row || a.index - b.index);
    let best: JobView['progress']['best_so_far'] = null;
    const durations: number[] = [];
    for (const t of trials) {
      if (t.status !== 'done') continue;
      const objective = this.objectiveOf(plan, t);
      if (objective !== null && (best === null || objective > best.objective)) best = { trial: t.uuid, family: t.family, objective, metrics: meansOf(t) ?? {} };
      if (t.timestamp_claimed && t.timestamp_done) durations.push(t.timestamp_done.getTime() - t.timestamp_claimed.getTime());
    }
    const total = plan.rows.reduce((n, r) => n + r.nTrials, 0);
    const done = trials.filter((t) => t.status === 'done').length;
    const failed = trials.filter((t) => t.status === 'failed' || t.status === 'canceled').length;
    const end = job.timestamp_done ?? new Date();
    const mean = durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : null;
    const { _id: _ignored, teacher, ...publicJob } = job;
    return {
      // The view shows the job as submitted, its profile included (kept apart, from memory after a first read).
      job: { ...publicJob, profile: publicJob.profile ?? (await this.jobProfile(job._id)) },
      teacher: teacher ? await this.teacherView(teacher) : null,
      progress: {
        trials_done: done,
        trials_failed: failed,
        trials_total: total,
        best_so_far: best,
        elapsed_seconds: job.timestamp_start ? (end.getTime() - job.timestamp_start.getTime()) / 1000 : 0,
        // Serial upper bound: the remaining trials at the mean measured trial duration, plus one for the final task.
        estimate_seconds: isFinalJobStatus(job.status) ? 0 : mean === null ? null : ((total - done - failed + 1) * mean) / 1000,
      },
      trials: trials.map((t) => ({
        trial: t.uuid,
        row: t.row,
        index: t.index,
        family: t.family,
        status: t.status,
        attempt: t.attempt,
        params: t.result?.params ?? null,
        metrics: meansOf(t),
        failure_reason: t.failure_reason,
      })),
    };
  }

  /**
   * A job's trials as its view shows them. The first view of a job in this process reads them
   * all and keeps the finished ones (FinishedTrials); later views read, row by row, only the rounds
   * from the first one not finished in memory on: a round exists only once every round before it
   * finished, so a row's later rounds are read until one is missing, short or unfinished. A
   * running job's view then reads about one round per row, whatever its number of trials.
   * Fixed-parameter trials (no rounds) are always read whole: one per row.
   */
  private async viewTrials(job: JobDoc, plan: StudyPlan): Promise<TrialDoc[]> {
    const known = job.fixed_params ? undefined : this.finishedTrials.of(job._id);
    if (!known) {
      const all = (await this.c.trials.find({ job: job._id }, { projection: VIEW_FIELDS }).toArray()) as TrialDoc[];
      // A trial stored before rounds were (no ask_round) is found only by this read: such a job is never kept.
      if (!job.fixed_params && all.every((t) => t.ask_round))
        this.finishedTrials.remember(
          job._id,
          all.filter((t) => TERMINAL_TASK.has(t.status)),
        );
      return all;
    }
    const open: TrialDoc[] = [];
    const finished: TrialDoc[] = [];
    for (const row of plan.rows) {
      const rounds = roundCount(row.nTrials, plan.roundSize);
      const finishedInMemory = (round: number) =>
        roundTrialIndices(round, row.nTrials, plan.roundSize).every((index) => known.has(trialId(job._id, row.row, index)));
      let round = 0;
      while (round < rounds && finishedInMemory(round)) round++;
      for (; round < rounds; round++) {
        const trials = await this.roundTrials(job, row.row, round, VIEW_FIELDS);
        const ended = trials.filter((t) => TERMINAL_TASK.has(t.status));
        finished.push(...ended);
        open.push(...trials.filter((t) => !TERMINAL_TASK.has(t.status)));
        if (ended.length < roundTrialIndices(round, row.nTrials, plan.roundSize).length) break;
      }
    }
    this.finishedTrials.remember(job._id, finished);
    return [...known.values(), ...open];
  }

  /** Cancels a job: its end fence says `canceled`; queued trials are withdrawn, running ones stop at their next heartbeat. */
  async cancel(jobId: string, by: Principal): Promise<JobDoc> {
    const job = await this.c.jobs.findOne({ _id: jobId });
    if (!job || (job.owner !== by.name && !by.roles.includes('admin')))
      throw new NotFoundError(`job ${jobId} does not exist`, { details: { where: 'path', field: 'id' } });
    transitionJob(job.status, 'canceled');
    if (!(await this.end(job, 'canceled', `canceled by ${by.name}`))) {
      const now = await this.c.jobs.findOne({ _id: jobId });
      transitionJob(now?.status ?? job.status, 'canceled');
    }
    await this.withdraw(jobId);
    return (await this.c.jobs.findOne({ _id: jobId }))!;
  }

  private async withdraw(jobId: string): Promise<void> {
    if (!this.leases) return;
    const open = await this.c.trials.find({ job: jobId }, { projection: { _id: 1, status: 1 } }).toArray();
    for (const t of open)
      if (!TERMINAL_TASK.has(t.status))
        await this.leases
          .cancel('trial', t._id, 'job canceled', ENGINE)
          .catch((e: Error) => this.logger.warn('trial cancel failed; the sweeper retries', { trial: t._id, error: e.message }));
    const final = await this.c.finalTasks.findOne({ _id: finalTaskId(jobId) }, { projection: { status: 1 } });
    if (final && !TERMINAL_TASK.has(final.status)) await this.leases.cancel('final', final._id, 'job canceled', ENGINE).catch(() => undefined);
    const teach = await this.c.teachTasks.findOne({ _id: teachTaskId(jobId) }, { projection: { status: 1 } });
    if (teach && !TERMINAL_TASK.has(teach.status)) {
      await this.leases.cancel('teach', teach._id, 'job canceled', ENGINE).catch(() => undefined);
      await this.forgetTeacherHeaders(teach._id);
    }
  }

  /**
   * Moves a job on: pending → running; each row's next round once the rounds before it are
   * finished; the final task once every row is complete; completed or failed after the final
   * task. Safe to run concurrently and repeatedly: what it creates has deterministic ids.
   *
   * `ended`: the trial whose end calls it. Its row's round is then all that can have changed, so
   * only that round's trials are read (and the next round's, and when the row is complete each
   * row's last round): a bounded read, whatever the job's size. Without it (a submission, the
   * sweeper's repair), or when that read cannot decide (a budget, fixed params, a stale or
   * legacy trial, every row complete), every trial of the job is read.
   */
  async advance(jobId: string, ended?: { row: number; index: number }): Promise<void> {
    // Most trial ends leave their round open: then nothing is created, whatever the job's status,
    // so the job is not read (one read of the round). A cancellation withdraws by itself; if its
    // replica died between the job's end and the withdrawal, the open round's trials may still run,
    // and the end that closes the round reads the canceled job and withdraws the rest.
    const seen = ended && this.runningJobs.get(jobId);
    const round = seen ? await this.endedRound(seen, this.planOf(seen), ended) : undefined;
    if (round && !round.every((t) => isFinished(stateOf(t)))) return;
    // Read without the dataset's profile (~6 KB, what FerretDB converts at each read): only the
    // final task, the teacher and the model need it, once per job (`whole`).
    let job = await this.c.jobs.findOne({ _id: jobId }, WITHOUT_PROFILE);
    if (!job) return;
    if (job.status === 'pending') {
      await this.transition(job, 'running', null);
      job = (await this.c.jobs.findOne({ _id: jobId }, WITHOUT_PROFILE))!;
    }
    if (job.status !== 'running') this.runningJobs.delete(jobId);
    if (job.status === 'canceled') return this.withdraw(jobId);
    if (job.status !== 'running') return;
    this.runningJobs.set(jobId, job);
    const whole = async (): Promise<JobWithProfile> => {
      const read = (await this.c.jobs.findOne({ _id: jobId }, WITHOUT_PROFILE))!;
      return { ...read, profile: await this.jobProfile(jobId) };
    };

    // A trial's end first reads its row alone: a job with a final task has every row complete, so
    // advanceRow then creates nothing and leaves the decision to the full path, which reads the
    // final task (one read less per trial; a trial exists only once its job's teacher is done).
    let plan = this.planOf(job);
    if (ended && (await this.advanceRow(job, plan, ended, round))) return;
    const final = await this.c.finalTasks.findOne({ _id: finalTaskId(jobId) });
    if (final) return this.afterFinal(await whole(), final);
    if (job.teacher && !job.teacher.targets_storage_uuid) {
      const taught = await this.teach(await whole(), job.teacher);
      if (!taught) return;
      job = taught;
      plan = this.planOf(job);
    }
    // Only what the plan, the budget and the final task read (not a trial's ask and data spec).
    const trials = (await this.c.trials.find({ job: jobId }, { projection: ADVANCE_FIELDS }).toArray()) as TrialDoc[];
    const now = Date.now();
    let complete = true;
    const created: TrialDoc[] = [];
    const rounds: TrialRoundDoc[] = [];
    for (const row of plan.rows) {
      const states = trials.filter((t) => t.row === row.row).map(stateOf);
      const next = nextRound(row, states, plan.roundSize);
      if (next.kind === 'complete') continue;
      if (next.kind === 'wait') complete = false;
      // A round the budget cannot fit is never launched: the row counts as finished, and the final task refits the best found.
      if (next.kind === 'create' && this.launchable(job, trials, row.family, now)) {
        complete = false;
        if (!job.fixed_params) rounds.push(this.roundDoc(job, plan, row.row, next.round, states));
        for (const index of next.indices) created.push(this.trialDoc(job, plan, row.row, index));
      }
    }
    // The rounds before their trials: a trial never names a missing round. A crash in between
    // leaves the round without trials, and the next advance (idempotent) inserts them.
    if (rounds.length > 0) {
      await insertTolerant(this.c.trialRounds, rounds);
      for (const r of rounds) this.rememberRound(r._id, r.history);
    }
    if (created.length > 0) {
      const inserted = await insertTolerant(this.c.trials, created);
      // Those another advance inserted first are dispatched without their documents (theirs differ in timestamps).
      await this.dispatcher.dispatch(
        'trial',
        created.map((t) => t._id),
        job.site,
        { written: inserted },
      );
    }
    if (complete) await this.startFinal(await whole(), plan, trials);
    // A cancellation that raced this advance: withdraw what it may have created.
    const after = await this.c.jobs.findOne({ _id: jobId }, { projection: { status: 1 } });
    if (after?.status === 'canceled') await this.withdraw(jobId);
  }

  /**
   * advance after one trial's end, reading only the rounds that decide the next step: that trial's
   * round; if it is finished, the next round (created here if missing, its history extended from
   * the round's stored one); if it was the row's last, every row's last round. A round exists only
   * once every round before it finished (and a finished trial stays finished), so a row whose last
   * round is finished is complete. Returns false when the full read must decide (see advance).
   */
  private async advanceRow(job: JobDoc, plan: StudyPlan, ended: { row: number; index: number }, read?: TrialDoc[]): Promise<boolean> {
    const current = read ?? (await this.endedRound(job, plan, ended));
    if (!current) return false;
    const row = plan.rows[ended.row]!;
    const round = roundOf(ended.index, plan.roundSize);
    const rounds = roundCount(row.nTrials, plan.roundSize);
    const states = current.map(stateOf);
    if (!states.every(isFinished)) return true;
    if (round + 1 < rounds) {
      const next = await this.roundTrials(job, row.row, round + 1);
      const indices = roundTrialIndices(round + 1, row.nTrials, plan.roundSize);
      // Launched already: its own trials' ends move the row on (all finished: this call is late, the full read decides).
      if (next.length === indices.length) return !next.map(stateOf).every(isFinished);
      const stored = await this.roundHistory(trialRoundId(job.job_id, row.row, round));
      if (!stored) return false;
      const doc: TrialRoundDoc = {
        _id: trialRoundId(job.job_id, row.row, round + 1),
        job: job.job_id,
        row: row.row,
        round: round + 1,
        history: extendHistory(plan, row, stored, states, round),
        timestamp_creation: new Date(),
      };
      const existing = new Set(next.map((t) => t.index));
      const created = indices.filter((i) => !existing.has(i)).map((i) => this.trialDoc(job, plan, row.row, i));
      // As in advance: the round before its trials. A concurrent advance may have inserted it first:
      // the same history (it is computed from the same finished round), so the copy kept is right either way.
      await insertTolerant(this.c.trialRounds, [doc]);
      this.rememberRound(doc._id, doc.history);
      const inserted = await insertTolerant(this.c.trials, created);
      // Those another advance inserted first are dispatched without their documents (theirs differ in timestamps).
      await this.dispatcher.dispatch(
        'trial',
        created.map((t) => t._id),
        job.site,
        { written: inserted },
      );
      const after = await this.c.jobs.findOne({ _id: job._id }, { projection: { status: 1 } });
      if (after?.status === 'canceled') await this.withdraw(job._id);
      return true;
    }
    // The row is complete; the job is once every other row is (each row's own trials' ends move it on until then).
    for (const other of plan.rows) {
      if (other.row === row.row) continue;
      const last = roundCount(other.nTrials, plan.roundSize) - 1;
      const trials = await this.roundTrials(job, other.row, last);
      if (trials.length < roundTrialIndices(last, other.nTrials, plan.roundSize).length || !trials.map(stateOf).every(isFinished)) return true;
    }
    // Every row complete: the final task chooses among all the trials (once per job).
    return false;
  }

  /**
   * The trials of the round a trial ended in, all of them inserted; undefined when the full read
   * must decide instead: a budget weighs every measured trial, fixed params have no rounds, and a
   * trial stored before rounds were (no ask_round) or a round partly inserted is repaired there.
   */
  private async endedRound(job: JobDoc, plan: StudyPlan, ended: { row: number; index: number }): Promise<TrialDoc[] | undefined> {
    const row = plan.rows[ended.row];
    if (!row || job.deadline !== null || job.fixed_params) return undefined;
    const round = roundOf(ended.index, plan.roundSize);
    const current = await this.roundTrials(job, row.row, round);
    if (!current.some((t) => t.index === ended.index) || current.length < roundTrialIndices(round, row.nTrials, plan.roundSize).length) return undefined;
    return current;
  }

  /** One round's trials of a row: an equality on `ask_round` (pushed down to PostgreSQL by FerretDB, and indexed). */
  private async roundTrials(job: JobDoc, row: number, round: number, projection: Record<string, 1> = ADVANCE_FIELDS): Promise<TrialDoc[]> {
    return this.c.trials.find({ job: job.job_id, ask_round: trialRoundId(job.job_id, row, round) }, { projection }).toArray();
  }

  /**
   * With a budget (a deadline: when the job's final model is due), a row's next round launches
   * only if one of its trials (the p90 of this job's measured trials of that family, else the
   * family's prior) and the final task fit in what remains. A job's first rounds always launch:
   * without a finished trial there is no model to return.
   */
  private launchable(job: JobDoc, trials: readonly TrialDoc[], family: FamilyId, nowMs: number): boolean {
    if (job.deadline === null || trials.length === 0) return true;
    const { byFamily, all } = measuredByFamily(measuredTrials(trials));
    return shouldLaunch({
      remainingMs: job.deadline.getTime() - nowMs,
      family,
      measuredTrialMs: byFamily.get(family) ?? [],
      finalTaskMs: finalTaskEstimateMs(all),
    });
  }

  /** What is left of a running job, in ms, from its budget and its measured trials (budget.jobRemainingMs). */
  async remainingMs(job: JobDoc, nowMs: number): Promise<number> {
    const plan = this.planOf(job);
    const trials = await this.c.trials
      .find({ job: job._id }, { projection: { row: 1, family: 1, status: 1, timestamp_creation: 1, timestamp_done: 1 } })
      .toArray();
    const final = job.final_task ? await this.c.finalTasks.findOne({ _id: job.final_task }, { projection: { timestamp_creation: 1 } }) : null;
    const rows = plan.rows.map((row) => {
      const finished = trials.filter((t) => t.row === row.row && TERMINAL_TASK.has(t.status)).length;
      const rounds = roundCount(row.nTrials, plan.roundSize);
      return { family: row.family, roundsLeft: finished >= row.nTrials ? 0 : rounds - Math.floor(finished / plan.roundSize) };
    });
    return jobRemainingMs({
      nowMs,
      deadlineMs: job.deadline?.getTime() ?? null,
      rows,
      measured: measuredTrials(trials),
      finalStartedAtMs: final ? final.timestamp_creation.getTime() : null,
    });
  }

  /**
   * A distilled job waits for its teach task: releases it (waiting → todo) on the first advance,
   * fails the job with the teacher's reason if it failed, and once it is done records its targets
   * on the job (what every trial and the final task then read). Returns the job once taught.
   */
  private async teach(job: JobWithProfile, teacher: JobTeacher): Promise<JobDoc | null> {
    const task = await this.c.teachTasks.findOne({ _id: teacher.teach_task });
    if (!task) {
      await this.end(job, 'failed', `the teach task ${teacher.teach_task} is missing`);
      return null;
    }
    if (task.status === 'waiting') {
      await this.c.teachTasks.updateOne({ _id: task._id, status: 'waiting' }, { $set: { status: 'todo', timestamp_todo: new Date() } });
      await this.dispatcher.dispatch('teach', [task._id], task.site);
      return null;
    }
    if (task.status === 'done' && task.targets_storage_uuid) {
      const rows = (task.result as { n_rows?: unknown } | null)?.n_rows;
      const taught: JobTeacher = { ...teacher, targets_storage_uuid: task.targets_storage_uuid, rows: typeof rows === 'number' ? rows : null };
      await this.c.jobs.updateOne({ _id: job._id }, { $set: { teacher: taught } });
      return { ...job, teacher: taught };
    }
    if (task.status === 'failed' || task.status === 'canceled') await this.end(job, 'failed', `the teach task failed: ${task.failure_reason ?? task.status}`);
    return null;
  }

  /** The teach row's follow-up (its task ended: done, or failed for good): its headers are forgotten, its job moves on. */
  async afterTeach(taskId: string): Promise<void> {
    const task = await this.c.teachTasks.findOne({ _id: taskId }, { projection: { status: 1, job: 1 } });
    if (!task || !TERMINAL_TASK.has(task.status)) return;
    await this.forgetTeacherHeaders(taskId);
    await this.advance(task.job);
  }

  private async forgetTeacherHeaders(taskId: string): Promise<void> {
    const task = await this.c.teachTasks.findOne({ _id: taskId }, { projection: { teacher: 1, status: 1 } });
    if (task?.teacher.kind !== 'url' || Object.keys(task.teacher.headers).length === 0 || !TERMINAL_TASK.has(task.status)) return;
    await this.c.teachTasks.updateOne({ _id: taskId, status: task.status }, { $set: { teacher: { kind: 'url', url: task.teacher.url, headers: {} } } });
  }

  private teachDoc(job: JobWithProfile, teacher: TeacherSpec): TeachTaskDoc {
    const id = teachTaskId(job.job_id);
    return {
      _id: id,
      uuid: id,
      job: job.job_id,
      teacher,
      ...this.dataSpec(job),
      result: null,
      targets_storage_uuid: null,
      status: 'waiting',
      worker: null,
      attempt: 0,
      failure_reason: null,
      timestamp_todo: null,
      timestamp_claimed: null,
      timestamp_done: null,
      timestamp_creation: new Date(),
    };
  }

  private async teacherView(teacher: JobTeacher): Promise<TeacherView> {
    const task = await this.c.teachTasks.findOne({ _id: teacher.teach_task }, { projection: { status: 1, failure_reason: 1 } });
    return {
      kind: teacher.kind,
      model_id: teacher.kind === 'model' ? teacher.model_id : null,
      status: task?.status ?? 'missing',
      failure_reason: task?.failure_reason ?? null,
      rows: teacher.rows ?? null,
    };
  }

  /** A round's propose history (the row's earlier rounds, all finished), stored once for its trials. */
  private roundDoc(job: JobDoc, plan: StudyPlan, row: number, round: number, states: TrialState[]): TrialRoundDoc {
    return {
      _id: trialRoundId(job.job_id, row, round),
      job: job.job_id,
      row,
      round,
      history: historyForRound(plan, plan.rows[row]!, states, round),
      timestamp_creation: new Date(),
    };
  }

  /**
   * The trial as its agent receives it at the claim: its ask with its round's history (stored
   * once, in `trial_rounds`), exactly as the work contract has it; the reference is not sent.
   */
  async trialWorkItem(task: TrialDoc): Promise<TrialWorkItem> {
    const { ask_round, ...stored } = task;
    const item = { ...stored, profile: stored.profile ?? ((await this.jobProfile(task.job)) as unknown as Record<string, unknown>) };
    if (ask_round === undefined || !task.ask) return item;
    const history = await this.roundHistory(ask_round);
    if (!history) throw new Error(`trial ${task._id} names the round ${ask_round}, which does not exist`);
    return { ...item, ask: withHistory(task.ask as unknown as StoredAsk, history) as unknown as Record<string, unknown> };
  }

  /** A job's dataset profile (fixed when the job was made), from memory after its first read. */
  async jobProfile(jobId: string): Promise<DatasetProfile> {
    const known = this.jobProfiles.get(jobId);
    if (known) return known;
    const profile = await readJobProfile(this.c, jobId);
    if (!profile) throw new Error(`job ${jobId} has no profile`);
    this.jobProfiles.set(jobId, profile);
    return profile;
  }

  private trialDoc(job: JobDoc, plan: StudyPlan, row: number, index: number): TrialDoc {
    const r = plan.rows[row]!;
    const id = trialId(job.job_id, row, index);
    const now = new Date();
    return {
      _id: id,
      uuid: id,
      job: job.job_id,
      row,
      index,
      family: r.family,
      // Fixed parameters (a registry training) are run as given; otherwise the search proposes, from its round's history.
      ...(job.fixed_params
        ? { params: job.fixed_params, ask: null }
        : {
            params: null,
            ask: storedAskForTrial(plan, r, index),
            ask_round: trialRoundId(job.job_id, row, roundOf(index, plan.roundSize)),
          }),
      seed: trialSeed(job.random_state, row, index),
      evaluation: evaluationOf(job),
      // Not the profile (kept once per job, in `job_profiles`): the claim joins it into the work item (trialWorkItem).
      ...this.dataSpecWithoutProfile(job),
      result: null,
      model_storage_uuid: null,
      oof_storage_uuid: null,
      status: 'todo',
      worker: null,
      attempt: 0,
      failure_reason: null,
      timestamp_todo: now,
      timestamp_claimed: null,
      timestamp_done: null,
      timestamp_creation: now,
    };
  }

  private dataSpec(job: JobWithProfile) {
    return { ...this.dataSpecWithoutProfile(job), profile: job.profile as unknown as Record<string, unknown> };
  }

  private dataSpecWithoutProfile(job: JobDoc) {
    return {
      dataset: job.dataset_id,
      storage_uuid: job.storage_uuid,
      owner: job.owner,
      site: job.site,
      label_column: job.label_column,
      task_kind: job.task_kind,
      filters: job.filters as unknown as Array<Record<string, unknown>>,
      ignore_fields: job.ignore_fields,
      random_state: job.random_state,
      metrics: job.metrics,
      class_weight: job.class_weight,
      teacher_targets: job.teacher?.targets_storage_uuid ?? null,
    };
  }

  /** The best done trial (highest scalarised objective of its row's weighting; ties: lowest row, then index) is refit by one final task. */
  private async startFinal(job: JobWithProfile, plan: StudyPlan, trials: TrialDoc[]): Promise<void> {
    let best: { t: TrialDoc; objective: number } | undefined;
    for (const t of [...trials].sort((a, b) => a.row - b.row || a.index - b.index)) {
      if (t.status !== 'done') continue;
      const objective = this.objectiveOf(plan, t);
      if (objective !== null && (!best || objective > best.objective)) best = { t, objective };
    }
    if (!best) {
      await this.end(job, 'failed', 'no trial succeeded');
      return;
    }
    const id = finalTaskId(job.job_id);
    const now = new Date();
    // ensemble: Caruana selection over every done trial's fold models and OOF predictions (best first), instead of the refit.
    const members = job.ensemble
      ? trials
          .filter((t) => t.status === 'done' && t.model_storage_uuid && t.oof_storage_uuid && this.objectiveOf(plan, t) !== null)
          .sort((a, b) => this.objectiveOf(plan, b)! - this.objectiveOf(plan, a)! || a.row - b.row || a.index - b.index)
          .map((t) => ({ trial: t.uuid, model: t.model_storage_uuid!, oof: t.oof_storage_uuid! }))
      : [];
    const final: FinalTaskDoc = {
      ensemble: members.length > 0 ? { members, steps: ENSEMBLE_STEPS } : null,
      _id: id,
      uuid: id,
      job: job.job_id,
      family: best.t.family,
      params: (best.t.result?.params as Record<string, unknown>) ?? {},
      seed: best.t.seed,
      best_trial: best.t.uuid,
      ...this.dataSpec(job),
      report: null,
      model_storage_uuid: null,
      status: 'todo',
      worker: null,
      attempt: 0,
      failure_reason: null,
      timestamp_todo: now,
      timestamp_claimed: null,
      timestamp_done: null,
      timestamp_creation: now,
    };
    await insertTolerant(this.c.finalTasks, [final]);
    await this.c.jobs.updateOne({ _id: job._id, status: 'running' }, { $set: { final_task: id } });
    await this.dispatcher.dispatch('final', [id], job.site);
  }

  /** After the final task: the model document (deterministic id), then the job completed; or the job failed. */
  private async afterFinal(job: JobWithProfile, final: FinalTaskDoc): Promise<void> {
    if (final.status === 'done' && final.model_storage_uuid && final.report) {
      const model: EngineModelDoc = {
        _id: modelIdOf(job.job_id),
        model_id: modelIdOf(job.job_id),
        job: job.job_id,
        dataset_id: job.dataset_id,
        owner: job.owner,
        site: job.site,
        family: final.family,
        params: final.params,
        label_column: job.label_column,
        task_kind: job.task_kind,
        schema: job.profile,
        report: final.report,
        model_storage_uuid: final.model_storage_uuid,
        best_trial: final.best_trial,
        timestamp_creation: new Date(),
      };
      await insertTolerant(this.c.models, [model]);
      await this.end(job, 'completed', null, { model_id: model.model_id });
    } else if (final.status === 'failed' || final.status === 'canceled') {
      await this.end(job, 'failed', `final task ${final.status}: ${final.failure_reason ?? ''}`.trim());
    }
  }

  /** pending → running: the `<job>/running` fence. */
  private async transition(job: JobDoc, to: 'running', reason: string | null): Promise<boolean> {
    transitionJob(job.status, to);
    const won = await this.fence(`${job._id}/${to}`, job._id, to, reason);
    if (won) this.announce(job, to, reason);
    // Applied by whoever reads it pending, so a winner that died before its write is repaired.
    await this.c.jobs.updateOne({ _id: job._id, status: 'pending' }, { $set: { status: 'running', timestamp_start: new Date() } });
    return won;
  }

  /** A final status: the one `<job>/end` fence decides between completed, failed and canceled. */
  private async end(job: JobDoc, status: Exclude<JobStatus, 'pending' | 'running'>, reason: string | null, extra: Partial<JobDoc> = {}): Promise<boolean> {
    const won = await this.fence(`${job._id}/end`, job._id, status, reason);
    const fence = await this.c.jobFences.findOne({ _id: `${job._id}/end` });
    if (!fence) return false;
    // The recorded outcome is applied (by the winner, or by a later advance if the winner died).
    const fields: Partial<JobDoc> = fence.status === status ? extra : {};
    await this.c.jobs.updateOne(
      { _id: job._id, status: { $in: ['pending', 'running'] } as never },
      { $set: { status: fence.status, failure_reason: fence.reason, timestamp_done: fence.at, ...fields } },
    );
    if (won) {
      this.logger.info('job ended', { job: job._id, status, reason });
      this.announce(job, status, reason);
    }
    if (won && this.endListeners.length > 0) {
      const ended = await this.c.jobs.findOne({ _id: job._id });
      for (const listener of ended ? this.endListeners : [])
        await listener(ended!).catch((e: Error) => this.logger.warn('a job-end listener failed; it catches up on read', { job: job._id, error: e.message }));
    }
    return won && fence.status === status;
  }

  private async fence(id: string, job: string, status: JobStatus, reason: string | null): Promise<boolean> {
    try {
      await this.c.jobFences.insertOne({ _id: id, job, status, reason, at: new Date() });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  private readonly repairers: Array<(olderThan: Date, batch: number) => Promise<number>> = [];

  /** Front doors whose submissions a crash can interrupt (the Akkio tasks) repair them with the engine's repair. */
  onRepair(repairer: (olderThan: Date, batch: number) => Promise<number>): void {
    this.repairers.push(repairer);
  }

  /** Re-drives what a crash interrupted: datasets without their profile task or outcome, front-door submissions, jobs between steps. */
  async repair(olderThan: Date, batch: number): Promise<number> {
    let n = 0;
    for (const repairer of this.repairers) n += await repairer(olderThan, batch);
    for (const d of await this.c.datasets.find({ status: 'profiling' }).limit(batch).toArray()) {
      if (d.timestamp_upload > olderThan) continue;
      const task = await this.c.profileTasks.findOne({ _id: d.profile_task }, { projection: { status: 1 } });
      if (!task) await this.ensureProfileTask(d);
      else if (TERMINAL_TASK.has(task.status)) await this.afterProfile(d.profile_task);
      else continue;
      n++;
    }
    for (const status of ['pending', 'running'] as const) {
      for (const j of await this.c.jobs
        .find({ status }, { projection: { _id: 1, timestamp_creation: 1 } })
        .limit(batch)
        .toArray()) {
        if (j.timestamp_creation > olderThan) continue;
        if (status === 'running' && !(await this.mayBeStalled(j._id))) continue;
        await this.advance(j._id);
        n++;
      }
    }
    return n;
  }

  /**
   * Whether a running job may wait on a step nobody will take, so the sweeper's repair must advance
   * it (reading every trial). Not when each row either has a trial still to end (that end advances
   * it: a finished trial's follow-up is what a crash can lose) or has its last round finished,
   * short of all: a bounded read per sweep, where advance would read the whole job every time.
   */
  private async mayBeStalled(jobId: string): Promise<boolean> {
    const job = await this.c.jobs.findOne({ _id: jobId });
    if (!job || job.status !== 'running' || job.deadline !== null || job.fixed_params || (job.teacher && !job.teacher.targets_storage_uuid)) return true;
    if (await this.c.finalTasks.findOne({ _id: finalTaskId(jobId) }, { projection: { _id: 1 } })) return true;
    const plan = this.planOf(job);
    const running = new Set<number>();
    // Equalities only (FerretDB pushes neither `$in` nor `$nin` down).
    for (const status of ['todo', 'pending'] as const)
      for (const t of await this.c.trials.find({ job: jobId, status }, { projection: { row: 1 } }).toArray()) running.add(t.row);
    let complete = 0;
    for (const row of plan.rows) {
      if (running.has(row.row)) continue;
      const last = roundCount(row.nTrials, plan.roundSize) - 1;
      const trials = await this.roundTrials(job, row.row, last);
      if (trials.length < roundTrialIndices(last, row.nTrials, plan.roundSize).length || !trials.map(stateOf).every(isFinished)) return true;
      complete++;
    }
    // Every row complete: the final task is due.
    return complete === plan.rows.length;
  }

  private planOf(job: JobDoc): StudyPlan {
    return planStudy({
      jobId: job.job_id,
      families: job.families as never,
      metrics: job.metrics,
      gridSize: job.grid_size,
      nTrials: job.n_trials,
      randomState: job.random_state,
      strategy: job.strategy,
    });
  }

  private objectiveOf(plan: StudyPlan, t: TrialDoc): number | null {
    const means = meansOf(t);
    const row = plan.rows[t.row];
    return means && row ? scalarObjective(plan.metrics, row.weights, means) : null;
  }
}

/** The done trials' launch-to-result durations, per family (what a budget pays for a trial). */
function measuredTrials(trials: readonly TrialDoc[]): MeasuredTrial[] {
  return trials
    .filter((t) => t.status === 'done' && t.timestamp_done && t.timestamp_creation)
    .map((t) => ({ family: t.family, ms: t.timestamp_done!.getTime() - t.timestamp_creation.getTime() }));
}

/** A trial's identity, status and outcome: what every read of a job's trials needs. */
const TRIAL_OUTCOME_FIELDS = {
  _id: 1,
  uuid: 1,
  row: 1,
  index: 1,
  family: 1,
  status: 1,
  'result.params': 1,
  'result.metrics': 1,
} as const;

/** The trial fields `advance` reads (stateOf, startFinal, objectiveOf, the budget's measured durations). */
const ADVANCE_FIELDS = {
  ...TRIAL_OUTCOME_FIELDS,
  seed: 1,
  model_storage_uuid: 1,
  oof_storage_uuid: 1,
  timestamp_creation: 1,
  timestamp_done: 1,
} as const;

/** The trial fields a job's view reads (engine.get). */
const VIEW_FIELDS = {
  ...TRIAL_OUTCOME_FIELDS,
  attempt: 1,
  failure_reason: 1,
  timestamp_claimed: 1,
  timestamp_done: 1,
  ask_round: 1,
} as const;

function evaluationOf(job: JobDoc): TrialDoc['evaluation'] {
  return job.evaluation.kind === 'holdout'
    ? { kind: 'holdout', train_fraction: job.evaluation.train_fraction ?? 0.8 }
    : { kind: 'kfold', n_splits: job.evaluation.n_splits ?? 5 };
}

/** Mean metric values of a done trial's result.json (`metrics: {name: {mean, std}}`). */
function meansOf(t: TrialDoc): Record<string, number> | null {
  const metrics = t.result?.metrics as Record<string, { mean?: number }> | undefined;
  if (!metrics) return null;
  return Object.fromEntries(
    Object.entries(metrics)
      .filter(([, v]) => typeof v?.mean === 'number')
      .map(([k, v]) => [k, v.mean as number]),
  );
}

function stateOf(t: TrialDoc): TrialState {
  const status = t.status === 'done' ? 'done' : t.status === 'failed' || t.status === 'canceled' ? 'failed' : t.status === 'pending' ? 'running' : 'created';
  return {
    index: t.index,
    status,
    params: status === 'done' ? ((t.result?.params as Record<string, unknown>) ?? null) : null,
    metrics: status === 'done' ? meansOf(t) : null,
  };
}

/** Inserts what another writer has not inserted first (same ids, same content but timestamps); returns those this call inserted. */
async function insertTolerant<T extends { _id: string }>(
  collection: { insertMany(docs: OptionalUnlessRequiredId<T>[], o: { ordered: boolean }): Promise<unknown> },
  docs: T[],
): Promise<T[]> {
  try {
    await collection.insertMany(docs as OptionalUnlessRequiredId<T>[], { ordered: false });
    return docs;
  } catch (err) {
    if (!onlyDuplicateKeys(err)) throw err;
    const existed = new Set(duplicateIndexes(err));
    return docs.filter((_, i) => !existed.has(i));
  }
}

/** A job in a listing (`GET /v1/jobs`): what identifies it and its state, without its profile. */
export type JobListItem = Pick<
  JobDoc,
  | 'job_id'
  | 'dataset_id'
  | 'owner'
  | 'site'
  | 'status'
  | 'failure_reason'
  | 'label_column'
  | 'task_kind'
  | 'families'
  | 'metrics'
  | 'n_trials'
  | 'model_id'
  | 'timestamp_creation'
  | 'timestamp_done'
>;

/** A job's profile: apart in `job_profiles`, or inside a job made before 2026-12-06. */
async function readJobProfile(c: Collections, jobId: string): Promise<DatasetProfile | null> {
  const apart = await c.jobProfiles.findOne({ _id: jobId });
  if (apart) return apart.profile;
  return (await c.jobs.findOne({ _id: jobId }, { projection: { profile: 1 } }))?.profile ?? null;
}
