import { engineOutputUuid, synthDataUuid } from '../../shared/contracts/blob-contract';
import { WORK_ERROR_CODES } from '../../shared/contracts/work-contract';
import { UnprocessableError } from '../../shared/errors/uplet-error';
import type { DatasetProfile } from '../../shared/contracts/training-contract';
import type { FinalTaskDoc, ProfileTaskDoc, SynthesizeTaskDoc, TeachTaskDoc, TrialDoc } from './engine-documents';
import type { RecordedDone, TaskKindRules } from '../work/task-kinds';
import type { TrainingEngine } from './training-engine';

/**
 * The training engine's rows of the per-kind table (orchestrator/work/task-kinds.ts): profile,
 * teach, trial and final tasks run under the same leases, settlements and retries as uplets. Each
 * reads its dataset's data blob only, and writes only its own attempt's outputs (kind `model`,
 * `engineOutputUuid(task, attempt, output)`); what follows a task's end is the engine's.
 */

/** A reported output must be the blob this attempt's lease may write, and no other. */
function ownOutput(field: string, reported: unknown, expected: string): void {
  if (reported !== expected) {
    throw new UnprocessableError(`${field} must be ${expected}, the output written under this lease`, {
      code: WORK_ERROR_CODES.NOT_TASK_OUTPUT,
      details: { where: 'body', field, expected },
    });
  }
}

/** A distilled job's trials and final task also read its teach task's targets. */
function teacherTargets(task: { teacher_targets?: string | null }): string[] {
  return task.teacher_targets ? [`model/${task.teacher_targets}`] : [];
}

/** Every follow-up step is idempotent, so the sweeper simply re-runs it for what may be interrupted. */
const repair = (engine: TrainingEngine) => (olderThan: Date, batch: number) => engine.repair(olderThan, batch);

export function profileTaskRules(engine: TrainingEngine): TaskKindRules<'profile'> {
  return {
    kind: 'profile',
    collection: (cs) => cs.profileTasks,
    site: (task) => task.site,
    acceptDone: (_task, _attempt, report) => {
      const profile = report.profile as Partial<DatasetProfile> | undefined;
      if (!profile || !Array.isArray(profile.columns) || typeof profile.row_count !== 'number') {
        throw new UnprocessableError('profile must be the profile.json of the engine: {row_count, delimiter, columns}', {
          details: { where: 'body', field: 'profile' },
        });
      }
      return report;
    },
    doneFields: (report: RecordedDone): Partial<ProfileTaskDoc> => ({ profile: report.profile as DatasetProfile }),
    finish: async (task, _attempt, write) => {
      await write();
      await engine.afterProfile(task._id);
    },
    blobs: async (task) => ({ reads: [`data/${task.storage_uuid}`], writes: [] }),
    repairFollowUps: async () => 0,
  };
}

export function trialRules(engine: TrainingEngine): TaskKindRules<'trial'> {
  return {
    kind: 'trial',
    collection: (cs) => cs.trials,
    site: (task) => task.site,
    acceptDone: (task, attempt, report) => {
      ownOutput('model_storage_uuid', report.model_storage_uuid, engineOutputUuid(task.uuid, attempt, 'model'));
      ownOutput('oof_storage_uuid', report.oof_storage_uuid, engineOutputUuid(task.uuid, attempt, 'oof'));
      const metrics = (report.result as { metrics?: unknown } | undefined)?.metrics;
      if (typeof metrics !== 'object' || metrics === null)
        throw new UnprocessableError('result must be the result.json of the engine, with metrics', { details: { where: 'body', field: 'result' } });
      return report;
    },
    doneFields: (report): Partial<TrialDoc> => ({
      result: report.result as Record<string, unknown>,
      model_storage_uuid: report.model_storage_uuid as string,
      oof_storage_uuid: report.oof_storage_uuid as string,
    }),
    finish: async (task, _attempt, write) => {
      await write();
      // Which trial ended: advance then reads its round, not every trial of the job.
      await engine.advance(task.job, { row: task.row, index: task.index });
    },
    blobs: async (task, attempt) => ({
      reads: [`data/${task.storage_uuid}`, ...teacherTargets(task)],
      writes: [`model/${engineOutputUuid(task.uuid, attempt, 'model')}`, `model/${engineOutputUuid(task.uuid, attempt, 'oof')}`],
    }),
    repairFollowUps: repair(engine),
    workItem: (task) => engine.trialWorkItem(task),
  };
}

export function finalRules(engine: TrainingEngine): TaskKindRules<'final'> {
  return {
    kind: 'final',
    collection: (cs) => cs.finalTasks,
    site: (task) => task.site,
    acceptDone: (task, attempt, report) => {
      ownOutput('model_storage_uuid', report.model_storage_uuid, engineOutputUuid(task.uuid, attempt, 'model'));
      return report;
    },
    doneFields: (report): Partial<FinalTaskDoc> => ({
      report: report.report as Record<string, unknown>,
      model_storage_uuid: report.model_storage_uuid as string,
    }),
    finish: async (task, _attempt, write) => {
      await write();
      await engine.advance(task.job);
    },
    blobs: async (task, attempt) => ({
      // An ensemble reads its members' fold models and out-of-fold predictions (the trials' outputs).
      reads: [`data/${task.storage_uuid}`, ...teacherTargets(task), ...(task.ensemble?.members ?? []).flatMap((m) => [`model/${m.model}`, `model/${m.oof}`])],
      writes: [`model/${engineOutputUuid(task.uuid, attempt, 'model')}`],
    }),
    // The trial row's repair already re-drives every unfinished job.
    repairFollowUps: async () => 0,
  };
}

/**
 * Synthetic data for a registry model trained with empty storage_ids: the agent runs the Python
 * `synthetic` on the ontology and writes one `data` blob, named after the task and attempt, under
 * its lease (the only data blob a compute node may write). Its follow-up (the registry's)
 * registers that blob as the owner's synthetic dataset, whose profile then starts the training.
 */
export function synthesizeRules(engine: TrainingEngine): TaskKindRules<'synthesize'> {
  return {
    kind: 'synthesize',
    collection: (cs) => cs.synthesizeTasks,
    site: (task) => task.site,
    acceptDone: (task, attempt, report) => {
      ownOutput('data_storage_uuid', report.data_storage_uuid, synthDataUuid(task.uuid, attempt));
      return report;
    },
    doneFields: (report): Partial<SynthesizeTaskDoc> => ({
      data_storage_uuid: report.data_storage_uuid as string,
      result: (report.result as Record<string, unknown> | undefined) ?? null,
    }),
    finish: async (task, _attempt, write) => {
      await write();
      await engine.afterSynthesis(task._id);
    },
    blobs: async (task, attempt) => ({ reads: [], writes: [`data/${synthDataUuid(task.uuid, attempt)}`], site: task.site }),
    repairFollowUps: (olderThan, batch) => engine.repairSynthesis(olderThan, batch),
  };
}

/**
 * Distillation: a distilled job's teach task, run once before its trials at the dataset's site.
 * It reads the dataset (and a teacher model's blob), writes only this attempt's targets blob;
 * its follow-up strips the teacher's headers from the task and moves the job on (its trials, or
 * the job failed with the teacher's reason).
 */
export function teachRules(engine: TrainingEngine): TaskKindRules<'teach'> {
  return {
    kind: 'teach',
    collection: (cs) => cs.teachTasks,
    site: (task) => task.site,
    acceptDone: (task, attempt, report) => {
      ownOutput('targets_storage_uuid', report.targets_storage_uuid, engineOutputUuid(task.uuid, attempt, 'targets'));
      if (typeof (report.result as { n_rows?: unknown } | undefined)?.n_rows !== 'number')
        throw new UnprocessableError('result must be the result.json of the engine, with n_rows', { details: { where: 'body', field: 'result' } });
      return report;
    },
    doneFields: (report): Partial<TeachTaskDoc> => ({
      result: report.result as Record<string, unknown>,
      targets_storage_uuid: report.targets_storage_uuid as string,
    }),
    finish: async (task, _attempt, write) => {
      await write();
      await engine.afterTeach(task._id);
    },
    blobs: async (task, attempt) => ({
      reads: [`data/${task.storage_uuid}`, ...(task.teacher.kind === 'model' ? [`model/${task.teacher.model_storage_uuid}`] : [])],
      writes: [`model/${engineOutputUuid(task.uuid, attempt, 'targets')}`],
    }),
    // The trial row's repair re-drives every unfinished job, and with it its teach task.
    repairFollowUps: async () => 0,
  };
}
