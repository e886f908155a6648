import type { Collection } from 'mongodb';
import { WORK_ERROR_CODES, type TaskKind } from '../../shared/contracts/work-contract';
import { predictionBlobUuid } from '../../shared/contracts/blob-contract';
import { UnprocessableError } from '../../shared/errors/uplet-error';
import type { PerfMap, PredupletDoc, TaskDoc, TaskDocOfKind } from '../domain/documents';
import { perItemScoreMap } from '../domain/per-item-scores';
import { siteOf } from '../../shared/contracts/sites';
import type { Collections } from '../persistence/collections';
import type { ChainKeeper } from './chain-keeper';
import { CodeSites, learnupletBlobs, predupletBlobs, type TaskBlobs } from './task-capabilities';
import { finalRules, profileTaskRules, synthesizeRules, teachRules, trialRules } from '../training/engine-task-kinds';
import { TrainingEngine } from '../training/training-engine';
import { silentLogger } from '../../shared/logging/logger';

/** A done report as received (per-file scores may still be the seed's lists). */
export type ReceivedDone = { status: 'done'; lease_token?: string } & Record<string, unknown>;
/** A done report as settled and recorded: normalised and checked against its task. */
export type RecordedDone = { status: 'done' } & Record<string, unknown>;

/**
 * What differs between task kinds, and nothing else: the lease machinery (WorkLeases), the
 * sweeper, the capabilities and the cancellation read this table and never branch on a kind.
 * A new kind of task is a new row.
 */
export interface TaskKindRules<K extends TaskKind = TaskKind> {
  kind: K;
  /** Where the kind's documents live. */
  collection(c: Collections): Collection<TaskDocOfKind[K]>;
  /** Normalises a done report and checks it describes this attempt's own work (4xx otherwise; nothing is settled). */
  acceptDone(task: TaskDocOfKind[K], attempt: number, report: ReceivedDone): RecordedDone;
  /** The fields a recorded done report writes on the task document. */
  doneFields(report: RecordedDone): Partial<TaskDocOfKind[K]>;
  /**
   * Runs the write that ends the task (done, or failed for good) and what follows it, e.g. the
   * next rank of a chain. `write` is conditional on the attempt, so running this twice is harmless.
   */
  finish(task: TaskDocOfKind[K], attempt: number, write: () => Promise<unknown>): Promise<void>;
  /** The site the task runs at: the site that holds its train data (its queue, the agents that may claim it). */
  site(task: TaskDocOfKind[K]): string;
  /** What one attempt's capability opens (data it may read) and authorises (outputs it may write). */
  blobs(task: TaskDocOfKind[K], attempt: number): Promise<TaskBlobs>;
  /** Re-drives follow-ups a crash interrupted before `olderThan` (the sweeper calls it); how many it re-drove. */
  repairFollowUps(olderThan: Date, batch: number): Promise<number>;
  /**
   * The work item the claiming agent receives, from the stored task (absent: the task as stored),
   * e.g. a trial's ask completed with its round's history, which is stored once for the round.
   */
  workItem?(task: TaskDocOfKind[K]): Promise<TaskDocOfKind[K]>;
}

export type TaskKindTable = { readonly [K in TaskKind]: TaskKindRules<K> };

/**
 * `engine` is the training engine whose follow-ups the profile, trial and final rows drive; a
 * table built without one (harnesses that run no engine work) gets an engine that publishes
 * nothing itself (the sweeper still republishes todo work).
 */
export function taskKindTable(
  c: Collections,
  chains: ChainKeeper,
  engine: TrainingEngine = new TrainingEngine(c, { dispatch: async () => undefined }, silentLogger()),
  code: CodeSites = new CodeSites(c),
): TaskKindTable {
  return {
    learnuplet: {
      kind: 'learnuplet',
      collection: (cs) => cs.learnuplets,
      acceptDone: (task, _attempt, report) => {
        const train_perf = ownScores(
          perItemScoreMap(report.train_perf as PerfMap | number[] | undefined, task.train_data, 'train_perf'),
          task.train_data,
          'train_perf',
        );
        const test_perf = ownScores(
          perItemScoreMap(report.test_perf as PerfMap | number[] | undefined, task.test_data, 'test_perf'),
          task.test_data,
          'test_perf',
        );
        return { ...report, ...(train_perf ? { train_perf } : {}), ...(test_perf ? { test_perf } : {}) };
      },
      doneFields: (report) => ({
        perf: (report.perf as number | undefined) ?? null,
        train_perf: (report.train_perf as PerfMap | undefined) ?? null,
        test_perf: (report.test_perf as PerfMap | undefined) ?? null,
      }),
      finish: (task, attempt, write) => chains.finishRank(task, attempt, write),
      site: (task) => siteOf(task),
      blobs: (task) => learnupletBlobs(c, task, code),
      repairFollowUps: (olderThan, batch) => chains.advanceStalledChains(olderThan, batch),
    },
    preduplet: {
      kind: 'preduplet',
      collection: (cs) => cs.preduplets,
      acceptDone: (task, attempt, report) => {
        // The prediction must be the blob written under this lease, and no other.
        const expected = predictionBlobUuid(task.uuid, attempt);
        if (report.prediction_storage_uuid !== undefined && report.prediction_storage_uuid !== expected) {
          throw new UnprocessableError(`prediction_storage_uuid must be ${expected}, the prediction written under this lease`, {
            code: WORK_ERROR_CODES.NOT_TASK_OUTPUT,
            details: { where: 'body', field: 'prediction_storage_uuid', expected },
          });
        }
        return report;
      },
      doneFields: (report): Partial<PredupletDoc> => ({ prediction_storage_uuid: (report.prediction_storage_uuid as string | undefined) ?? null }),
      finish: async (_task, _attempt, write) => void (await write()),
      site: (task) => siteOf(task),
      blobs: (task, attempt) => predupletBlobs(c, task, attempt, code),
      repairFollowUps: async () => 0,
    },
    // The training engine's kinds (orchestrator/training/engine-task-kinds.ts).
    profile: profileTaskRules(engine),
    trial: trialRules(engine),
    final: finalRules(engine),
    synthesize: synthesizeRules(engine),
    teach: teachRules(engine),
  };
}

/** The rules of a kind, typed for the machinery that handles every kind alike. */
export function rulesOf(table: TaskKindTable, kind: TaskKind): TaskKindRules<TaskKind> {
  return table[kind] as unknown as TaskKindRules<TaskKind>;
}

/** The collection of a kind, typed as the common task document. */
export function tasksOf(table: TaskKindTable, c: Collections, kind: TaskKind): Collection<TaskDoc> {
  return table[kind].collection(c) as unknown as Collection<TaskDoc>;
}

/** Per-item scores may name only the task's own data (train_perf ⊆ train_data, test_perf ⊆ test_data). */
function ownScores(scores: PerfMap | undefined, own: readonly string[], field: 'train_perf' | 'test_perf'): PerfMap | undefined {
  if (!scores) return scores;
  const allowed = new Set(own);
  const foreign = Object.keys(scores).filter((k) => !allowed.has(k));
  if (foreign.length > 0) {
    throw new UnprocessableError(
      `${field} scores data that is not in this learnuplet's ${field === 'train_perf' ? 'train_data' : 'test_data'}: ${foreign.slice(0, 10).join(', ')}`,
      {
        code: WORK_ERROR_CODES.UNKNOWN_PERF_ITEM,
        details: { where: 'body', field, items: foreign.slice(0, 100) },
      },
    );
  }
  return scores;
}
