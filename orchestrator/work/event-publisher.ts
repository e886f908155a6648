import type { StatusEvent } from '../../shared/contracts/events-contract';

/**
 * Announces status changes (messaging/amqp-event-publisher.ts publishes them on the events
 * exchange). Fire-and-forget: a lost event never fails or delays the change it reports, since
 * the documents are the record and subscribers re-read them after a reconnect.
 */
export interface EventPublisher {
  publish(event: Omit<StatusEvent, 'at'> & { at?: string }): void;
}

/** For callers that announce nothing (tools, benchmarks). */
export const NO_EVENTS: EventPublisher = { publish: () => undefined };
