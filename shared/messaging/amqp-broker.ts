import { EventEmitter, once } from 'node:events';
import * as amqp from 'amqplib';
import type { Logger } from '../logging/logger';
import { DependencyUnavailableError } from '../errors/uplet-error';
import { declareWorkTopology, type WorkTopology } from './work-topology';

export interface Delivery {
  content: Buffer;
  redelivered: boolean;
  /** Ack on the channel that delivered; if that channel died the broker redelivers instead. */
  ack(): void;
  /** Reject without requeue: the message goes to the dead-letter queue. */
  deadLetter(): void;
  /** Put the message back on its queue (for work handed back on shutdown). */
  requeue(): void;
}

export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

interface ConsumerRegistration {
  queue: string;
  prefetch: number;
  handler: DeliveryHandler;
  channel?: amqp.Channel;
  consumerTag?: string;
}

export interface AmqpBrokerOptions {
  url: string;
  topology: WorkTopology;
  logger: Logger;
  /** How long publish() waits for a connection before failing. */
  publishTimeoutMs?: number;
  /** Reconnect back-off (exponential with jitter). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Retries before the first successful connection; Infinity waits for the broker forever. */
  initialMaxRetries?: number;
  /** Shown by `rabbitmqctl list_connections client_properties`, to tell services apart. */
  connectionName?: string;
}

/**
 * One connection per service, with amqplib's recovery: on every (re)connect the
 * topology is declared again, a fresh confirm channel serves publishes, and
 * every registered consumer is re-established on a new channel.
 */
export class AmqpBroker extends EventEmitter {
  private connection?: amqp.RecoveringChannelModel;
  private publishChannel?: amqp.ConfirmChannel;
  private readonly consumers: ConsumerRegistration[] = [];
  private readonly subscriptions: Array<{ exchange: string; pattern: string; handler: (content: Buffer, routingKey: string) => void }> = [];
  private closing?: Promise<void>;
  private connected = false;

  constructor(private readonly options: AmqpBrokerOptions) {
    super();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  async start(): Promise<void> {
    const { logger } = this.options;
    const connection = await amqp.connect(this.options.url, {
      clientProperties: { connection_name: this.options.connectionName ?? 'uplet' },
      recovery: {
        initialDelay: this.options.initialDelayMs ?? 200,
        maxDelay: this.options.maxDelayMs ?? 5_000,
        factor: 2,
        jitter: 0.3,
        maxRetries: Infinity,
        initialMaxRetries: this.options.initialMaxRetries ?? 5,
        waitForConnect: false,
        setup: async (model: amqp.ChannelModel) => this.onConnected(model),
      },
    });
    this.connection = connection;
    connection.on('disconnect', (err: Error) => {
      this.connected = false;
      this.publishChannel = undefined;
      for (const c of this.consumers) c.channel = undefined;
      if (!this.closing) logger.warn('broker connection lost; reconnecting', { error: err.message });
      this.emit('disconnected');
    });
    connection.on('reconnect-scheduled', ({ attempt, delay }: { attempt: number; delay: number }) =>
      logger.debug('broker reconnect scheduled', { attempt, delayMs: delay }),
    );
    connection.on('error', (err: Error) => logger.warn('broker connection error', { error: err.message }));
    try {
      await connection.waitForConnect();
    } catch (err) {
      throw new DependencyUnavailableError(
        `cannot reach RabbitMQ at ${redactUrl(this.options.url)}: ${(err as Error).message}. ` +
          'Start one (e.g. `rabbitmq-server -detached`) or set AMQP_URL.',
        { cause: err },
      );
    }
  }

  private async onConnected(model: amqp.ChannelModel): Promise<void> {
    const channel = await model.createConfirmChannel();
    channel.on('error', (err: Error) => this.options.logger.warn('publish channel error', { error: err.message }));
    await declareWorkTopology(channel, this.options.topology);
    this.publishChannel = channel;
    channel.on('close', () => {
      if (this.publishChannel === channel) this.publishChannel = undefined;
    });
    for (const consumer of this.consumers) await this.openConsumer(model, consumer);
    for (const subscription of this.subscriptions) await this.attachSubscription(await model.createChannel(), subscription);
    this.connected = true;
    this.options.logger.info('broker connected');
    this.emit('connected');
  }

  /** Publishes a persistent JSON message to a queue and resolves once the broker confirms it. */
  async publish(queue: string, message: object): Promise<void> {
    const channel = await this.waitForPublishChannel();
    const body = Buffer.from(JSON.stringify(message));
    await new Promise<void>((resolve, reject) => {
      channel.sendToQueue(queue, body, { persistent: true, contentType: 'application/json' }, (err: unknown) =>
        err ? reject(new DependencyUnavailableError(`broker did not confirm a message to ${queue}`, { cause: err })) : resolve(),
      );
    });
  }

  private async waitForPublishChannel(): Promise<amqp.ConfirmChannel> {
    if (this.publishChannel) return this.publishChannel;
    if (this.closing) throw new DependencyUnavailableError('broker connection is closing');
    const timeoutMs = this.options.publishTimeoutMs ?? 10_000;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      while (!this.publishChannel) await once(this, 'connected', { signal: ac.signal });
      return this.publishChannel;
    } catch {
      throw new DependencyUnavailableError(`broker unavailable for ${timeoutMs} ms`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Publishes a JSON event to a topic exchange; resolves once the broker confirms it. */
  async publishEvent(exchange: string, routingKey: string, message: object): Promise<void> {
    const channel = await this.waitForPublishChannel();
    const body = Buffer.from(JSON.stringify(message));
    await new Promise<void>((resolve, reject) => {
      channel.publish(exchange, routingKey, body, { contentType: 'application/json' }, (err: unknown) =>
        err ? reject(new DependencyUnavailableError(`broker did not confirm an event to ${exchange}`, { cause: err })) : resolve(),
      );
    });
  }

  /**
   * Hears events of a topic exchange matching `pattern` (e.g. `job.*`, `#`) on a queue of this
   * subscriber's own (exclusive, removed with its connection), re-made on every reconnect.
   * Events published while disconnected are not heard: subscribers re-read state on `connected`.
   */
  async subscribe(exchange: string, pattern: string, handler: (content: Buffer, routingKey: string) => void): Promise<void> {
    const subscription = { exchange, pattern, handler };
    this.subscriptions.push(subscription);
    if (this.connected && this.connection) await this.attachSubscription(await this.connection.createChannel(), subscription);
  }

  private async attachSubscription(
    channel: amqp.Channel,
    s: { exchange: string; pattern: string; handler: (content: Buffer, routingKey: string) => void },
  ): Promise<void> {
    channel.on('error', (err: Error) => this.options.logger.warn('subscription channel error', { exchange: s.exchange, error: err.message }));
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, s.exchange, s.pattern);
    await channel.consume(
      queue,
      (msg) => {
        if (!msg) return;
        try {
          s.handler(msg.content, msg.fields.routingKey);
        } catch (err) {
          this.options.logger.warn('event handler failed', { error: (err as Error).message });
        }
      },
      { noAck: true },
    );
  }

  /** Registers a consumer; it is (re)opened on every connection until close(). */
  async consume(queue: string, prefetch: number, handler: DeliveryHandler): Promise<void> {
    const registration: ConsumerRegistration = { queue, prefetch, handler };
    this.consumers.push(registration);
    // Open it now if connected; otherwise the next setup() opens it.
    if (this.connected && this.connection) {
      await this.attachConsumer(await this.connection.createChannel(), registration);
    }
  }

  private async openConsumer(model: amqp.ChannelModel, registration: ConsumerRegistration): Promise<void> {
    await this.attachConsumer(await model.createChannel(), registration);
  }

  private async attachConsumer(channel: amqp.Channel, registration: ConsumerRegistration): Promise<void> {
    const { logger } = this.options;
    channel.on('error', (err: Error) => logger.warn('consumer channel error', { queue: registration.queue, error: err.message }));
    await channel.prefetch(registration.prefetch);
    registration.channel = channel;
    const reply = await channel.consume(registration.queue, (msg) => {
      if (msg === null) return; // consumer cancelled by the broker; the next reconnect reopens it
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        // A channel that died meanwhile cannot ack: the broker redelivers, and claims are conditional.
        try {
          fn();
        } catch (err) {
          logger.debug('could not settle a delivery on a closed channel', { error: (err as Error).message });
        }
      };
      const delivery: Delivery = {
        content: msg.content,
        redelivered: msg.fields.redelivered,
        ack: () => settle(() => channel.ack(msg)),
        deadLetter: () => settle(() => channel.reject(msg, false)),
        requeue: () => settle(() => channel.reject(msg, true)),
      };
      registration.handler(delivery).catch((err: unknown) => {
        logger.error('delivery handler failed; message requeued', { queue: registration.queue, error: (err as Error).message });
        delivery.requeue();
      });
    });
    registration.consumerTag = reply.consumerTag;
  }

  /** Stops every consumer (no new deliveries); messages in flight can still be settled. */
  async stopConsuming(): Promise<void> {
    for (const c of this.consumers.splice(0)) {
      if (c.channel && c.consumerTag) await c.channel.cancel(c.consumerTag).catch(() => undefined);
    }
  }

  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.stopConsuming().catch(() => undefined);
      this.connected = false;
      await this.connection?.close().catch(() => undefined);
    })());
  }
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}
