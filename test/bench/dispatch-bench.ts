import * as amqp from 'amqplib';
import { summarize, type LatencySummary } from './bench-stats';
import { startBenchSystem } from './bench-system';

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
  try {
    await sys.call('POST', '/problem', { uuid: 'dp', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
    await sys.call('POST', '/data', { uuid: 'dd', problems: 'dp' });
    const started = performance.now();
    for (let i = 0; i < samples; i++) {
      await sys.call('POST', '/algo', { uuid: `da${i}`, name: 'a', problem: 'dp' });
      for (;;) {
        const [l] = (await sys.call('GET', `/learnuplet?algo=da${i}`)).learnuplets;
        if (l.timestamp_claimed) {
          latencies.push(new Date(l.timestamp_claimed).getTime() - new Date(l.timestamp_todo).getTime());
          break;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      // Let the agent go idle again (its task fails at once) before the next sample.
      while (sys.agent!.running() > 0) await new Promise((r) => setTimeout(r, 2));
    }
    const uplet = summarize(latencies, (performance.now() - started) / 1000);
    return { samples, uplet, rawAmqp: await rawRoundTrips(amqpUrl, samples) };
  } finally {
    await sys.close();
  }
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
