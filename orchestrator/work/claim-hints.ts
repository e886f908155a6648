import type { TaskDoc, TaskKind } from '../domain/documents';
import { RecentMap } from '../../shared/recent-map';
import type { TaskBlobs } from './task-capabilities';
import type { DispatchOptions, WorkDispatcher } from './work-dispatcher';

/** Tasks remembered at once, at most: a hint lost to the limit costs only its claim a read. */
const HINTS_KEPT = 4096;

/**
 * A capability read started at the todo write serves the claim only when it started at most this
 * long before the claim (the usual idle agent claims within milliseconds); a later claim reads
 * afresh. A capability outlives its read by its whole lease anyway (heartbeats re-sign the
 * lease's reads), so reading it up to a second earlier widens nothing that matters.
 */
export const PREPARED_FRESH_MS = 1_000;

/**
 * Tasks of one dispatch whose capability is read ahead, at most: the first claims of a batch come
 * within the freshness window, the rest of a large batch (a prediction request of thousands of
 * items) would not, and reading them all at once would queue ahead of the claims themselves.
 */
export const PREPARED_PER_DISPATCH = 8;

/** What a task's claim will read before its lease, read as soon as the task is written todo. */
export type Preparer = (kind: TaskKind, task: TaskDoc) => Promise<TaskBlobs>;

/** A capability read started at the todo write; `blobs` is undefined when the read failed (the claim reads again). */
export interface PreparedBlobs {
  /** performance.now() when the read started (monotonic: a clock step does not make it fresh). */
  startedAt: number;
  blobs: Promise<TaskBlobs | undefined>;
}

export interface ClaimHint {
  /** The task as its todo write left it. */
  task: TaskDoc;
  /** Its capability for attempt `task.attempt + 1`, being read since the todo write (when a preparer is set). */
  prepared?: PreparedBlobs;
}

/**
 * The tasks this replica has just written as todo, as written, so that its claim of one is made
 * from that document instead of reading it back: one database round trip less between a todo
 * write and its claim (issue 22's dispatch latency), and one command less per claimed task. With
 * a preparer (WorkLeases sets its capability read), the claim's capability is read as the task is
 * published, beside the message's way to an agent, instead of after the agent's claim arrives.
 *
 * A hint is only trusted as far as WorkLeases.grant checks it: the lease fence and the claimed
 * write conditioned on the hint's attempt and todo status decide, and a hint found stale is
 * undone and the task read. Only writers that have the document at hand dispatch with it
 * (`DispatchOptions.written`); a republish or a release does not.
 */
export class ClaimHints {
  private readonly recent = new RecentMap<string, ClaimHint>(HINTS_KEPT);
  private preparer: Preparer | undefined;

  constructor(readonly freshMs: number = PREPARED_FRESH_MS) {}

  /** Reads each hinted task's capability as soon as it is remembered. */
  prepareWith(preparer: Preparer): void {
    this.preparer = preparer;
  }

  remember(kind: TaskKind, tasks: readonly TaskDoc[]): void {
    tasks.forEach((task, i) => {
      const hint: ClaimHint = { task };
      if (i < PREPARED_PER_DISPATCH) hint.prepared = this.prepare(kind, task, hint);
      this.recent.set(`${kind}/${task._id}`, hint);
    });
  }

  /** The hint of a task, forgotten as it is taken: one claim per todo write uses it. */
  take(kind: TaskKind, uuid: string): ClaimHint | undefined {
    const key = `${kind}/${uuid}`;
    const hint = this.recent.get(key);
    if (hint) this.recent.delete(key);
    return hint;
  }

  /** The prepared capability of a hint, if its read is fresh enough to serve a claim now. */
  async preparedBlobs(hint: ClaimHint): Promise<TaskBlobs | undefined> {
    if (!hint.prepared || performance.now() - hint.prepared.startedAt > this.freshMs) return undefined;
    return hint.prepared.blobs;
  }

  /**
   * A dispatcher that remembers the tasks its callers say they wrote (`how.written`) before it
   * publishes them, and forgets what it held of the others it publishes (a release, a
   * republish): a hint outliving its todo write would only cost its claim a failed try.
   */
  recording(inner: WorkDispatcher): WorkDispatcher {
    return {
      dispatch: (kind: TaskKind, uuids: readonly string[], site?: string, how?: DispatchOptions) => {
        for (const uuid of uuids) this.recent.delete(`${kind}/${uuid}`);
        if (how?.written) this.remember(kind, how.written);
        return inner.dispatch(kind, uuids, site, how);
      },
    };
  }

  private prepare(kind: TaskKind, task: TaskDoc, hint: ClaimHint): PreparedBlobs | undefined {
    const preparer = this.preparer;
    if (!preparer) return undefined;
    // Past its freshness the read serves no claim: not kept (a learnuplet's lists its train data).
    setTimeout(() => delete hint.prepared, this.freshMs + 1).unref();
    // A failed read is not the claim's failure: the claim reads again.
    return { startedAt: performance.now(), blobs: preparer(kind, task).catch(() => undefined) };
  }
}
