import type { TaskDoc, TaskKind } from '../domain/documents';

/**
 * Publishes "this task is todo" (kind + uuid only); an agent then claims it through /worker.
 * Implemented over RabbitMQ by messaging/amqp-work-dispatcher.ts; the work modules depend on
 * this port only, so they can be tested with an in-memory one.
 */
export interface WorkDispatcher {
  /**
   * Never throws: what could not be published is republished by the sweeper. `site` is where
   * the tasks run (the queue they go to); when not given, each task's site is read from its document.
   */
  dispatch(kind: TaskKind, uuids: readonly string[], site?: string, how?: DispatchOptions): Promise<void>;
}

export interface DispatchOptions {
  /**
   * A republish of work that has been todo for a while (the sweeper's): its publish time is
   * recorded, so the next sweep does not publish it again. A first publish, right after its todo
   * write, needs no record: its `timestamp_todo` already tells the sweeper as much.
   */
  republish?: boolean;
  /**
   * The tasks as this todo write left them (the caller has them at hand): this replica's claim
   * of one is made from that document instead of reading it back (work/claim-hints.ts).
   */
  written?: readonly TaskDoc[];
}
