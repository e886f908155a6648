import type { Channel } from 'amqplib';

/**
 * The whole RabbitMQ topology of uplet, declared in one place and re-applied on
 * every (re)connect. Messages carry only a reference (uplet type + uuid).
 */
export type UpletType = 'learnuplet' | 'preduplet';

export interface WorkMessage {
  type: UpletType;
  uuid: string;
}

export interface WorkTopology {
  learnQueue: string;
  predictQueue: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
}

export function workTopology(prefix: string): WorkTopology {
  return {
    learnQueue: `${prefix}.learnuplet`,
    predictQueue: `${prefix}.preduplet`,
    deadLetterExchange: `${prefix}.dead-letter`,
    deadLetterQueue: `${prefix}.dead-letter`,
  };
}

export function queueFor(topology: WorkTopology, type: UpletType): string {
  return type === 'learnuplet' ? topology.learnQueue : topology.predictQueue;
}

export async function declareWorkTopology(channel: Channel, topology: WorkTopology): Promise<void> {
  await channel.assertExchange(topology.deadLetterExchange, 'fanout', { durable: true });
  await channel.assertQueue(topology.deadLetterQueue, { durable: true });
  await channel.bindQueue(topology.deadLetterQueue, topology.deadLetterExchange, '');
  // Rejected (malformed) work goes to the dead-letter queue instead of looping.
  const workQueueArgs = { durable: true, arguments: { 'x-dead-letter-exchange': topology.deadLetterExchange } };
  await channel.assertQueue(topology.learnQueue, workQueueArgs);
  await channel.assertQueue(topology.predictQueue, workQueueArgs);
}

const UUID_LIKE = /^[A-Za-z0-9_-]{1,64}$/;

/** Parses a delivery body; returns undefined for anything that is not a well-formed work reference. */
export function parseWorkMessage(content: Buffer): WorkMessage | undefined {
  try {
    const parsed: unknown = JSON.parse(content.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { type, uuid } = parsed as Record<string, unknown>;
    if ((type === 'learnuplet' || type === 'preduplet') && typeof uuid === 'string' && UUID_LIKE.test(uuid)) {
      return { type, uuid };
    }
  } catch {
    /* not JSON: malformed */
  }
  return undefined;
}
