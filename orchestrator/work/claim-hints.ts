import { isDeepStrictEqual } from 'node:util';
import type { TaskDoc, TaskKind } from '../domain/documents';
import { RecentMap } from '../../shared/recent-map';
import type { DispatchOptions, WorkDispatcher } from './work-dispatcher';

/** Tasks remembered at once, at most: a hint lost to the limit costs only a claim's early start. */
const HINTS_KEPT = 4096;

/**
 * The tasks this replica has just written as todo, as written, so that the claim of one starts
 * its capability reads beside its read of the task instead of after it: between a todo write and
 * the claim those reads were one database round trip in series (issue 22's dispatch latency).
 * Only the kinds whose capability reads the database are dispatched with their documents:
 * learnuplets (the test data's registration, the code sites, the starting model's writer) and
 * preduplets (the data's owner, the code sites); the training engine's capabilities are computed
 * from the task alone.
 *
 * A hint is only a guess at the task: the claim uses what it started only if the task it read
 * is the hint in every field but timestamps (`matchesHint`); otherwise it starts again from the
 * task read. So a stale hint (another writer in between) costs reads, never a wrong grant.
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

  /** A dispatcher that remembers the tasks its callers say they wrote (`how.written`) before it publishes them. */
  recording(inner: WorkDispatcher): WorkDispatcher {
    return {
      dispatch: (kind: TaskKind, uuids: readonly string[], site?: string, how?: DispatchOptions) => {
        if (how?.written) this.remember(kind, how.written);
        return inner.dispatch(kind, uuids, site, how);
      },
    };
  }
}

/**
 * Whether a task as read is its hint: every field equal but the timestamps (written as the task
 * moves, and read by no capability), an absent field and null alike (the driver may store an
 * undefined field as null or drop it).
 */
export function matchesHint(hint: TaskDoc, read: TaskDoc): boolean {
  const a = hint as unknown as Record<string, unknown>;
  const b = read as unknown as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (key.startsWith('timestamp_')) continue;
    const x = a[key] ?? null;
    const y = b[key] ?? null;
    if (x !== y && !isDeepStrictEqual(x, y)) return false;
  }
  return true;
}
