import type { Channel } from 'amqplib';
import { TASK_KINDS, type TaskKind } from '../contracts/work-contract';

/**
 * The whole RabbitMQ topology of uplet, declared in one place and re-applied on
 * every (re)connect: one durable queue per task kind, `<prefix>.<kind>`, whose
 * rejected (malformed) messages go to `<prefix>.dead-letter`. Messages carry only
 * a reference (task kind + uuid), see shared/contracts/work-contract.ts.
 */
export interface WorkTopology {
  queues: Readonly<Record<TaskKind, string>>;
  /** Topic exchange of status events (`<subject>.<status>`), see shared/contracts/events-contract.ts. */
  eventsExchange: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
}

export function workTopology(prefix: string): WorkTopology {
  return {
    queues: Object.fromEntries(TASK_KINDS.map((kind) => [kind, `${prefix}.${kind}`])) as Record<TaskKind, string>,
    deadLetterExchange: `${prefix}.dead-letter`,
    deadLetterQueue: `${prefix}.dead-letter`,
    eventsExchange: `${prefix}.events`,
  };
}

export function queueFor(topology: WorkTopology, kind: TaskKind): string {
  return topology.queues[kind];
}

export async function declareWorkTopology(channel: Channel, topology: WorkTopology): Promise<void> {
  await channel.assertExchange(topology.deadLetterExchange, 'fanout', { durable: true });
  await channel.assertQueue(topology.deadLetterQueue, { durable: true });
  await channel.bindQueue(topology.deadLetterQueue, topology.deadLetterExchange, '');
  const workQueueArgs = { durable: true, arguments: { 'x-dead-letter-exchange': topology.deadLetterExchange } };
  for (const queue of Object.values(topology.queues)) await channel.assertQueue(queue, workQueueArgs);
  await channel.assertExchange(topology.eventsExchange, 'topic', { durable: true });
}
