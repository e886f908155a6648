import * as amqp from 'amqplib';
import { summarize, type LatencySummary } from './bench-stats';
import { startBenchSystem } from './bench-system';
import { AmqpBroker } from '../../shared/messaging/amqp-broker';
import { workTopology } from '../../shared/messaging/work-topology';
import { silentLogger } from '../../shared/logging/logger';
import { learnupletUuid } from '../../orchestrator/domain/uplet-ids';

export interface DispatchResult {
  samples: number;
  uplet: LatencySummary;
  rawAmqp: LatencySummary;
}

/**
 * Time from an uplet becoming `todo` to an idle compute agent holding it
 * (timestamp_todo → timestamp_claimed, both stamped by the orchestrator),
 * against a bare amqplib publish (confirmed) → consume round trip on the same broker.
 */
export async function benchDispatch(mongoUrlFor: (db: string) => string, amqpUrl: string, samples: number): Promise<DispatchResult> {
  // The tasks themselves fail at once (no algo archive): only the hand-over is measured.
  const sys = await startBenchSystem(mongoUrlFor, amqpUrl, { agentConcurrency: 1, orchestrator: { MAX_ATTEMPTS: '1' } });
  const latencies: number[] = [];
  // The claim is heard on the events exchange (learnuplet.pending), not polled through the API: a
  // listing every 2 ms kept a query in flight on the orchestrator and FerretDB while they dispatched.
  const events = new AmqpBroker({ url: amqpUrl, topology: workTopology(sys.prefix), logger: silentLogger() });
  const claimed = new Map<string, () => void>();
  try {
    await events.start();
    await events.subscribe(workTopology(sys.prefix).eventsExchange, 'learnuplet.pending', (content) => {
      const id = (JSON.parse(content.toString('utf8')) as { id?: string }).id;
      if (id) claimed.get(id)?.();
    });
    await sys.call('POST', '/problem', { uuid: 'dp', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
    await sys.call('POST', '/data', { uuid: 'dd', problems: 'dp' });
    const started = performance.now();
    for (let i = 0; i < samples; i++) {
      const uuid = learnupletUuid('dp', `da${i}`, 0);
      const heard = new Promise<void>((resolve) => claimed.set(uuid, resolve));
      await sys.call('POST', '/algo', { uuid: `da${i}`, name: 'a', problem: 'dp' });
      await withTimeout(heard, 60_000, `the claim of ${uuid} was not heard`);
      claimed.delete(uuid);
      // Both stamps are the orchestrator's, on the document: read once, after the claim.
      const l = await sys.orchestrator.collections.learnuplets.findOne({ _id: uuid });
      if (!l?.timestamp_claimed || !l.timestamp_todo) throw new Error(`learnuplet ${uuid} has no claim stamps`);
      latencies.push(l.timestamp_claimed.getTime() - l.timestamp_todo.getTime());
      // Let the agent go idle again (its task fails at once) before the next sample.
      while (sys.agent!.running() > 0) await new Promise((r) => setTimeout(r, 2));
    }
    const uplet = summarize(latencies, (performance.now() - started) / 1000);
    return { samples, uplet, rawAmqp: await rawRoundTrips(amqpUrl, samples) };
  } finally {
    await events.close();
    await sys.close();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

async function rawRoundTrips(url: string, samples: number): Promise<LatencySummary> {
  // Two connections, as the orchestrator and an agent have; a durable queue, as uplet's are.
  const conn = await amqp.connect(url);
  const consumerConn = await amqp.connect(url);
  const queue = `uplet-bench-raw-${process.pid}-${Date.now()}`;
  try {
    const pub = await conn.createConfirmChannel();
    const sub = await consumerConn.createChannel();
    await sub.assertQueue(queue, { durable: true });
    const latencies: number[] = [];
    let resolveOne: (() => void) | undefined;
    await sub.consume(queue, (msg) => {
      if (!msg) return;
      latencies.push(performance.now() - Number(msg.content.toString()));
      sub.ack(msg);
      resolveOne?.();
    });
    const started = performance.now();
    for (let i = 0; i < samples; i++) {
      const got = new Promise<void>((r) => (resolveOne = r));
      pub.sendToQueue(queue, Buffer.from(String(performance.now())), { persistent: true });
      await pub.waitForConfirms();
      await got;
    }
    const result = summarize(latencies, (performance.now() - started) / 1000);
    await pub.deleteQueue(queue);
    return result;
  } finally {
    await conn.close();
    await consumerConn.close();
  }
}
