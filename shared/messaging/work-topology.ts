import type { Channel } from 'amqplib';
import { TASK_KINDS, type TaskKind } from '../contracts/work-contract';

/**
 * The whole RabbitMQ topology of uplet, declared in one place and re-applied on
 * every (re)connect: one durable queue per site and task kind, `<prefix>.<kind>` at the site
 * `default` (so a one-site install keeps its queues) and `<prefix>.<site>.<kind>` at the
 * others (work is published to the queue of the site that holds its data), whose
 * rejected (malformed) messages go to `<prefix>.dead-letter`. Messages carry only
 * a reference (task kind + uuid), see shared/contracts/work-contract.ts.
 */
export interface WorkTopology {
  prefix: string;
  /** The queues of the site `default`. */
  queues: Readonly<Record<TaskKind, string>>;
  /** The sites whose queues this process declares (the orchestrator: all; an agent: its own). */
  sites: readonly string[];
  /** Topic exchange of status events (`<subject>.<status>`), see shared/contracts/events-contract.ts. */
  eventsExchange: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
}

export function workTopology(prefix: string, sites: readonly string[] = ['default']): WorkTopology {
  return {
    prefix,
    queues: Object.fromEntries(TASK_KINDS.map((kind) => [kind, siteQueueName(prefix, 'default', kind)])) as Record<TaskKind, string>,
    sites: [...new Set(sites)],
    deadLetterExchange: `${prefix}.dead-letter`,
    deadLetterQueue: `${prefix}.dead-letter`,
    eventsExchange: `${prefix}.events`,
  };
}

/** The queue of a kind's work at a site. */
export function siteQueueName(prefix: string, site: string, kind: TaskKind): string {
  return site === 'default' ? `${prefix}.${kind}` : `${prefix}.${site}.${kind}`;
}

export function queueFor(topology: WorkTopology, kind: TaskKind, site = 'default'): string {
  return siteQueueName(topology.prefix, site, kind);
}

/** Every work queue the topology declares. */
export function allWorkQueues(topology: WorkTopology): string[] {
  return topology.sites.flatMap((site) => TASK_KINDS.map((kind) => siteQueueName(topology.prefix, site, kind)));
}

export async function declareWorkTopology(channel: Channel, topology: WorkTopology): Promise<void> {
  await channel.assertExchange(topology.deadLetterExchange, 'fanout', { durable: true });
  await channel.assertQueue(topology.deadLetterQueue, { durable: true });
  await channel.bindQueue(topology.deadLetterQueue, topology.deadLetterExchange, '');
  const workQueueArgs = { durable: true, arguments: { 'x-dead-letter-exchange': topology.deadLetterExchange } };
  for (const queue of allWorkQueues(topology)) await channel.assertQueue(queue, workQueueArgs);
  await channel.assertExchange(topology.eventsExchange, 'topic', { durable: true });
}
