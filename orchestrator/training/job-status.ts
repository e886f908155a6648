import {
  FINAL_JOB_STATUSES,
  type AkkioStatus,
  type JobStatus,
  type RegistryModelStatus,
  type TrainerRunStatus,
} from '../../shared/contracts/training-contract';
import { IllegalTransitionError } from '../../shared/errors/training-errors';
import { unknownTimeoutMs } from './budget';

/**
 * Job statuses of the engine and how each front door names them.
 *
 * | from | to |
 * |---|---|
 * | pending | running, failed, canceled |
 * | running | completed, failed, canceled |
 * | completed, failed, canceled | — (final) |
 */
export const JOB_TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  pending: ['running', 'failed', 'canceled'],
  running: ['completed', 'failed', 'canceled'],
  completed: [],
  failed: [],
  canceled: [],
};

export function isFinalJobStatus(status: JobStatus): boolean {
  return FINAL_JOB_STATUSES.includes(status);
}

/** The new status, or IllegalTransitionError (409, code ILLEGAL_TRANSITION) naming both. */
export function transitionJob(current: JobStatus, requested: JobStatus): JobStatus {
  if (!JOB_TRANSITIONS[current].includes(requested)) throw new IllegalTransitionError('a job', current, requested, JOB_TRANSITIONS[current]);
  return requested;
}

export const CANCELED_MESSAGE = 'canceled';

/** Seed 004's four-value enum: a canceled job is `failed` with message "canceled". */
export function trainerRunStatus(status: JobStatus, error: string | null): { status: TrainerRunStatus; message: string | null } {
  if (status === 'canceled') return { status: 'failed', message: CANCELED_MESSAGE };
  if (status === 'failed') return { status: 'failed', message: error ?? 'failed' };
  return { status, message: null };
}

/**
 * The Akkio status: pending → PENDING, running → IN_PROGRESS, completed → SUCCEEDED, failed and
 * canceled → FAILED; an unfinished job older than unknownTimeoutMs(tier) → UNKNOWN_TIMEOUT.
 */
export function akkioStatus(status: JobStatus, tierSeconds: number, createdAtMs: number, nowMs: number): AkkioStatus {
  switch (status) {
    case 'completed':
      return 'SUCCEEDED';
    case 'failed':
    case 'canceled':
      return 'FAILED';
    default:
      if (nowMs - createdAtMs > unknownTimeoutMs(tierSeconds)) return 'UNKNOWN_TIMEOUT';
      return status === 'pending' ? 'PENDING' : 'IN_PROGRESS';
  }
}

/**
 * Registry model statuses (seed 003) and their legal transitions:
 *
 * | from | to | why |
 * |---|---|---|
 * | draft | training, archived | train it; or drop it unused (the seed's own example) |
 * | training | trained, failed, draft | its job completed / failed / was canceled (back to draft with the reason) |
 * | trained | training, degraded, deprecated, archived | retrain; monitoring found it worse; replaced; retired |
 * | failed | training, draft, archived | retry; edit the config first; give up |
 * | degraded | training, deprecated, archived | retrain; replaced; retired |
 * | deprecated | archived | retired at last |
 * | archived | — | final |
 *
 * Setting a status to itself is not a transition (a PUT repeating the status is harmless).
 */
export const REGISTRY_TRANSITIONS: Readonly<Record<RegistryModelStatus, readonly RegistryModelStatus[]>> = {
  draft: ['training', 'archived'],
  training: ['trained', 'failed', 'draft'],
  trained: ['training', 'degraded', 'deprecated', 'archived'],
  failed: ['training', 'draft', 'archived'],
  degraded: ['training', 'deprecated', 'archived'],
  deprecated: ['archived'],
  archived: [],
};

export function isLegalModelTransition(current: RegistryModelStatus, requested: RegistryModelStatus): boolean {
  return current === requested || REGISTRY_TRANSITIONS[current].includes(requested);
}

/** The new model status, or IllegalTransitionError (409) naming current, requested and allowed. */
export function transitionModel(current: RegistryModelStatus, requested: RegistryModelStatus): RegistryModelStatus {
  if (!isLegalModelTransition(current, requested)) throw new IllegalTransitionError('a model', current, requested, REGISTRY_TRANSITIONS[current]);
  return requested;
}

/**
 * The registry model status that follows its training job's status: running/pending → training,
 * completed → trained, failed → failed, canceled → draft (the reason is recorded by the caller).
 */
export function modelStatusForJob(status: JobStatus): RegistryModelStatus {
  switch (status) {
    case 'pending':
    case 'running':
      return 'training';
    case 'completed':
      return 'trained';
    case 'failed':
      return 'failed';
    case 'canceled':
      return 'draft';
  }
}
