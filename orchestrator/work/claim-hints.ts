import type { TaskDoc, TaskKind } from '../domain/documents';
import { RecentMap } from '../../shared/recent-map';
import type { DispatchOptions, WorkDispatcher } from './work-dispatcher';

/** Tasks remembered at once, at most: a hint lost to the limit costs only its claim a read. */
const HINTS_KEPT = 4096;

/**
 * The tasks this replica has just written as todo, as written, so that its claim of one is made
 * from that document instead of reading it back: one database round trip less between a todo
 * write and its claim (issue 22's dispatch latency), and one command less per claimed task.
 *
 * A hint is only trusted as far as WorkLeases.grant checks it: the lease fence and the claimed
 * write conditioned on the hint's attempt and todo status decide, and a hint found stale is
 * undone and the task read. Only writers that have the document at hand dispatch with it
 * (`DispatchOptions.written`); a republish or a release does not.
 */
export class ClaimHints {
  private readonly recent = new RecentMap<string, TaskDoc>(HINTS_KEPT);

  remember(kind: TaskKind, tasks: readonly TaskDoc[]): void {
    for (const task of tasks) this.recent.set(`${kind}/${task._id}`, task);
  }

  /** The hint of a task, forgotten as it is taken: one claim per todo write uses it. */
  take(kind: TaskKind, uuid: string): TaskDoc | undefined {
    const key = `${kind}/${uuid}`;
    const hint = this.recent.get(key);
    if (hint) this.recent.delete(key);
    return hint;
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
}
