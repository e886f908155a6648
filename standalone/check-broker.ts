import * as amqp from 'amqplib';
import { DependencyUnavailableError } from '../shared/errors/uplet-error';
import { redactUrl } from '../shared/messaging/amqp-broker';

/** Fails fast, with how to start one, when no RabbitMQ answers at `url`. */
export async function checkBrokerReachable(url: string): Promise<void> {
  try {
    const conn = await amqp.connect(url, { timeout: 5_000 });
    await conn.close();
  } catch (err) {
    throw new DependencyUnavailableError(
      `RabbitMQ is not reachable at ${redactUrl(url)} (${(err as Error).message}). ` +
        'Start a local one with `rabbitmq-server -detached` (check with `rabbitmqctl status`), or set AMQP_URL to a running broker.',
    );
  }
}
