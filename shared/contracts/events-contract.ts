import { FINAL_JOB_STATUSES } from './training-contract';

/**
 * Status changes, published on the topic exchange `<prefix>.events` with the routing key
 * `<subject>.<status>` (e.g. `learnuplet.done`, `job.completed`, `model.trained`), so that
 * dashboards and WebSocket clients hear every change whichever orchestrator replica made it.
 * Events are notifications, not the record: the documents stay the source of truth, and a
 * consumer that missed events reads them again (or replays the registry's numbered events).
 */
export interface StatusEvent {
  /** What changed: a task kind, or `job`, `model`, `dataset`… */
  subject: string;
  id: string;
  status: string;
  /** ISO-8601 time of the change. */
  at: string;
  /** The attempt a task status belongs to. */
  attempt?: number;
  /** What the subject belongs to, for subscribers that filter (problem, job, project…). */
  scope?: Record<string, string>;
  /** Anything else worth showing (a reason, a perf, a sequence number). */
  detail?: Record<string, unknown>;
}

export function eventRoutingKey(event: Pick<StatusEvent, 'subject' | 'status'>): string {
  return `${safeKeyPart(event.subject)}.${safeKeyPart(event.status)}`;
}

/** Routing-key words may not contain dots or wildcards. */
function safeKeyPart(word: string): string {
  return word.replace(/[.*#\s]/g, '_');
}

/** The job id of a job's end event (`job.completed`, `job.failed`, `job.canceled`), else undefined (another event, or not an event at all). */
export function endedJobOf(content: Buffer): string | undefined {
  try {
    const event = JSON.parse(content.toString('utf8')) as Partial<StatusEvent>;
    return event.subject === 'job' && typeof event.id === 'string' && (FINAL_JOB_STATUSES as readonly string[]).includes(String(event.status))
      ? event.id
      : undefined;
  } catch {
    return undefined;
  }
}
