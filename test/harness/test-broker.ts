import * as amqp from 'amqplib';
import { AmqpBroker } from '../../shared/messaging/amqp-broker';
import { allWorkQueues, workTopology, type WorkTopology } from '../../shared/messaging/work-topology';
import { silentLogger } from '../../shared/logging/logger';
import { readState } from './test-servers-state';
import { uniqueName } from './test-database';

export function testAmqpUrl(): string {
  return readState().amqpUrl;
}

/** A queue prefix of this test file's own, so files run in parallel on one broker. */
export function testAmqpPrefix(label: string): string {
  return uniqueName(label);
}

export async function openTestBroker(prefix: string): Promise<AmqpBroker> {
  const broker = new AmqpBroker({ url: testAmqpUrl(), topology: workTopology(prefix), logger: silentLogger(), initialDelayMs: 100, maxDelayMs: 1_000 });
  await broker.start();
  return broker;
}

/** Deletes every queue and exchange of a prefix, so a test run leaves nothing behind. */
export async function deleteTestTopology(prefix: string, sites: readonly string[] = ['default']): Promise<void> {
  const t: WorkTopology = workTopology(prefix, sites);
  const conn = await amqp.connect(testAmqpUrl());
  try {
    const ch = await conn.createChannel();
    for (const q of [...allWorkQueues(t), t.deadLetterQueue]) await ch.deleteQueue(q);
    await ch.deleteExchange(t.deadLetterExchange);
    await ch.deleteExchange(t.eventsExchange);
    await ch.close();
  } finally {
    await conn.close();
  }
}
