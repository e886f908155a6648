import { eventRoutingKey, type StatusEvent } from '../../shared/contracts/events-contract';
import type { Logger } from '../../shared/logging/logger';
import type { AmqpBroker } from '../../shared/messaging/amqp-broker';
import type { EventPublisher } from '../work/event-publisher';

/** Publishes status events on the topic exchange `<prefix>.events`, routing key `<subject>.<status>`. */
export class AmqpEventPublisher implements EventPublisher {
  constructor(
    private readonly broker: AmqpBroker,
    private readonly exchange: string,
    private readonly logger: Logger,
  ) {}

  publish(partial: Omit<StatusEvent, 'at'> & { at?: string }): void {
    const event: StatusEvent = { ...partial, at: partial.at ?? new Date().toISOString() };
    this.broker
      .publishEvent(this.exchange, eventRoutingKey(event), event)
      .catch((err: Error) =>
        this.logger.debug('status event not published', { subject: event.subject, id: event.id, status: event.status, error: err.message }),
      );
  }
}
