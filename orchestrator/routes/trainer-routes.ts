import { Router } from 'express';
import Joi from 'joi';
import type { Principal } from '../../shared/auth/api-keys';
import type { TrainerRunRequest } from '../../shared/contracts/training-contract';
import type { TeacherSpec } from '../../shared/contracts/work-contract';
import { identifier } from '../../shared/contracts/identifiers';
import { NotFoundError, UnprocessableError } from '../../shared/errors/uplet-error';
import { principalOf, requireRole } from '../../shared/http/authenticate';
import { validate } from '../../shared/http/validate';
import type { JobDoc } from '../training/engine-documents';
import { fieldOf } from '../training/job-request';
import { trainerRunStatus } from '../training/job-status';
import { paretoFront } from '../training/pareto';
import { validateTrainerRun } from '../training/request-validation';
import { planStudy, scalarObjective } from '../training/study-plan';
import { teacherUrlAllowed, type TeacherAllowlist } from '../training/teacher-allowlist';
import { trainerRunBody } from '../training/trainer-run-request';
import type { JobRequest, TrainingEngine } from '../training/training-engine';

const jobPath = Joi.object({ job_id: identifier().required() });

/** The trainer run (seed 004) compiled into the engine's job request. n_splits null = one holdout split (80/20 of the non-test rows). */
export function compileTrainerRun(body: TrainerRunRequest): JobRequest {
  return {
    dataset_id: body.dataset_id,
    label_column: body.task.label_column,
    task_kind: body.task.task_kind,
    filters: body.filter === null ? [] : Array.isArray(body.filter) ? body.filter : [body.filter],
    ignore_fields: [],
    families: body.model_types,
    metrics: body.metrics,
    strategy: body.strategy,
    n_trials: body.n_trials,
    evaluation: body.n_splits === null ? { kind: 'holdout', train_fraction: 0.8 } : { kind: 'kfold', n_splits: body.n_splits },
    class_weight: null,
    random_state: body.random_state,
    grid_size: body.grid_size,
    ensemble: body.ensemble,
    budget_seconds: null,
  };
}

function refuse(problems: Array<{ loc: Array<string | number>; msg: string; type: string }>): never {
  const first = problems[0]!;
  throw new UnprocessableError(`${fieldOf(first.loc)}: ${first.msg}`, {
    code: 'INVALID_TRAINER_RUN',
    details: { where: 'body', field: fieldOf(first.loc), problems },
  });
}

/**
 * `POST /v1/trainer/run`, `GET /v1/trainer/jobs/{job_id}`, `POST /v1/trainer/jobs/{job_id}/cancel`:
 * a thin front door on the training engine. The key comes as `Authorization: Bearer …` (or
 * X-API-Key); a `refresh-token` header is accepted and ignored.
 */
export function trainerRoutes(engine: TrainingEngine, teacherAllowlist: TeacherAllowlist): Router {
  const router = Router();
  const users = requireRole('organizer', 'data-provider', 'algo-author', 'admin');

  router.post('/v1/trainer/run', requireRole('data-provider', 'admin'), async (req, res) => {
    const raw = (req.body ?? {}) as Record<string, unknown>;
    if (raw.teacher_model_id != null && raw.teacher_predict_url != null) {
      refuse([{ loc: ['body', 'teacher_predict_url'], msg: 'give teacher_model_id or teacher_predict_url, not both', type: 'value_error.two_teachers' }]);
    }
    const body = validate(trainerRunBody, req.body, 'body') as TrainerRunRequest;
    const who = principalOf(res);
    // Judged against the profile here so the 422 names the trainer's fields (task.label_column, filter.value, model_types.1 …).
    const dataset = await engine.dataset(body.dataset_id, who).catch((err: unknown) => {
      if (err instanceof NotFoundError)
        refuse([{ loc: ['body', 'dataset_id'], msg: `dataset ${body.dataset_id} does not exist`, type: 'value_error.unknown_dataset' }]);
      throw err;
    });
    if (dataset.profile) {
      const problems = validateTrainerRun(dataset.profile, body);
      if (problems.length > 0) refuse(problems);
    }
    const teacher = await checkTeacher(engine, teacherAllowlist, body, dataset.site, dataset.profile, who);
    const job = await engine.submit(compileTrainerRun(body), who, { teacher });
    res.status(201).json(summary(job));
  });

  router.get('/v1/trainer/jobs/:job_id', users, async (req, res) => {
    const { job_id: id } = validate(jobPath, req.params, 'path');
    const who = principalOf(res);
    const view = await engine.get(id, who);
    const job = view.job as JobDoc;
    const plan = planStudy({
      jobId: job.job_id,
      families: job.families as never,
      metrics: job.metrics,
      gridSize: job.grid_size,
      nTrials: job.n_trials,
      randomState: job.random_state,
      strategy: job.strategy,
    });
    const trials = view.trials.map((t) => {
      const row = plan.rows[t.row];
      const objective = row && t.metrics ? scalarObjective(plan.metrics, row.weights, t.metrics) : null;
      return { ...t, weights: row?.weights ?? null, objective };
    });
    const leaderboard = plan.rows.map((row) => ({
      row: row.row,
      family: row.family,
      weights: Object.fromEntries(plan.metrics.map((m, i) => [m, row.weights[i] ?? 0])),
      trials: trials
        .filter((t) => t.row === row.row && t.status === 'done' && t.objective !== null)
        .sort((a, b) => b.objective! - a.objective! || a.index - b.index)
        .map((t) => ({ trial: t.trial, index: t.index, objective: t.objective, metrics: t.metrics, params: t.params })),
    }));
    const done = trials.filter((t) => t.status === 'done' && t.metrics).map((t) => ({ id: t.trial, values: t.metrics!, t }));
    const pareto =
      plan.metrics.length > 1
        ? paretoFront(done, plan.metrics).map(({ t }) => ({ trial: t.trial, row: t.row, family: t.family, metrics: t.metrics, params: t.params }))
        : null;
    let finalModel = null;
    if (job.model_id) {
      const m = await engine.model(job.model_id, who);
      finalModel = {
        model_id: m.model_id,
        family: m.family,
        params: m.params,
        best_trial: m.best_trial,
        kind: (m.report.model as { kind?: string } | undefined)?.kind ?? 'refit',
        report: m.report,
      };
    }
    res.json({
      ...summary(job),
      metrics: job.metrics,
      model_types: job.families,
      strategy: job.strategy,
      n_trials: job.n_trials,
      random_state: job.random_state,
      // Distillation: the teacher's kind, its teach task's status and the rows it predicted; never its URL or headers.
      teacher: view.teacher,
      progress: view.progress,
      trials,
      leaderboard,
      pareto_front: pareto,
      final_model: finalModel,
    });
  });

  router.post('/v1/trainer/jobs/:job_id/cancel', users, async (req, res) => {
    const { job_id: id } = validate(jobPath, req.params, 'path');
    res.json(summary(await engine.cancel(id, principalOf(res))));
  });

  return router;
}

function summary(job: Pick<JobDoc, 'job_id' | 'status' | 'failure_reason' | 'dataset_id'>) {
  const { status, message } = trainerRunStatus(job.status, job.failure_reason);
  return { job_id: job.job_id, status, message, dataset_id: job.dataset_id };
}

/**
 * Teachers. `teacher_predict_url` sends training rows off the site: refused unless the operator
 * allow-listed it for the dataset's site (TEACHER_URL_ALLOWLIST). `teacher_model_id` must be a
 * model of this server, the caller's, trained on the same schema for the same label and task, and
 * held at the dataset's site (its blob is read there). Returns what the job's teach task runs.
 */
async function checkTeacher(
  engine: TrainingEngine,
  allowlist: TeacherAllowlist,
  body: TrainerRunRequest,
  site: string,
  profile: JobDoc['profile'] | null,
  who: Principal,
): Promise<TeacherSpec | null> {
  if (body.teacher_predict_url) {
    if (!teacherUrlAllowed(allowlist, site, body.teacher_predict_url)) {
      refuse([
        {
          loc: ['body', 'teacher_predict_url'],
          msg: `the teacher URL is not allow-listed for site ${site}: it would send the site's training rows off the site (operator setting TEACHER_URL_ALLOWLIST)`,
          type: 'value_error.teacher_not_allowed',
        },
      ]);
    }
    return { kind: 'url', url: body.teacher_predict_url, headers: body.teacher_predict_headers ?? {} };
  }
  if (body.teacher_model_id) {
    const model = await engine.model(body.teacher_model_id, who).catch(() => null);
    const refuseModel = (msg: string, type: string): never => refuse([{ loc: ['body', 'teacher_model_id'], msg, type }]);
    if (!model) return refuseModel(`no model ${body.teacher_model_id} of yours on this server`, 'value_error.unknown_model');
    const names = (p: JobDoc['profile'] | null) => (p?.columns ?? []).map((c) => `${c.name}:${c.type}`).join(',');
    if (names(model.schema) !== names(profile)) refuseModel('the teacher model was trained on another schema', 'value_error.teacher_schema');
    if (model.label_column !== body.task.label_column || model.task_kind !== body.task.task_kind)
      refuseModel(
        `the teacher model predicts ${model.label_column} (${model.task_kind}), not ${body.task.label_column} (${body.task.task_kind})`,
        'value_error.teacher_task',
      );
    if (model.site !== site) refuseModel(`the teacher model is held at site ${model.site}, the dataset at site ${site}`, 'value_error.teacher_site');
    return { kind: 'model', model_id: model.model_id, model_storage_uuid: model.model_storage_uuid };
  }
  return null;
}
