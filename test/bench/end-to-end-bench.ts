import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { packArchive } from '../../standalone/pack-archive';
import { runSandboxed } from '../../compute-agent/sandbox/sandboxed-command';
import { probeSandbox } from '../../compute-agent/sandbox/sandbox-probe';
import { DEFAULT_LIMITS } from '../../compute-agent/sandbox/sandbox-limits';
import { summarize, type LatencySummary } from './bench-stats';
import { startBenchSystem } from './bench-system';
import { rawFenceCycles } from './claim-cycle-bench';
import { AmqpBroker } from '../../shared/messaging/amqp-broker';
import { workTopology } from '../../shared/messaging/work-topology';
import { silentLogger } from '../../shared/logging/logger';

export interface EndToEndResult {
  tasks: number;
  workers: number;
  upletTasksPerSecond: number;
  /** The raw fence claim cycle (claim → heartbeat → report through the driver alone) on the same preduplets, same workers. */
  rawFenceCyclesPerSecond: number;
  bullmqJobsPerSecond: number;
  sandboxSpawn: LatencySummary;
  /** Sandboxed commands one no-op preduplet runs once its archives are cached: detarget, predict. */
  spawnsPerTask: number;
}

const NOOP_WORKFLOW = `#!/bin/sh
# no-op workflow: detarget copies, score gives every item 1
if [ "$1" = detarget ]; then cp "$2"/* "$3"/; exit 0; fi
printf '{"perf":1,"perfs":{' > "$4"; sep=''
for f in "$3"/*; do printf '%s"%s":1' "$sep" "$(basename "$f")" >> "$4"; sep=','; done
printf '},"metrics":{}}' >> "$4"
`;
const NOOP_ALGO =
  '#!/bin/sh\n# no-op algo: an empty model, one line of predictions per item\nif [ "$1" = train ]; then : > "$4"; else for f in "$2"/*; do echo probability > "$4/$(basename "$f")"; done; fi\n';

/**
 * No-op preduplets through the whole system (claim, fetch with digests, sandbox
 * spawns, upload, report), against the raw fence claim cycle on the same preduplets
 * with the same number of workers (issue 22's baseline: the database work of a task,
 * nothing else), BullMQ on the local Redis running a no-op job (context), and the
 * bare cost of one sandboxed spawn.
 */
export async function benchEndToEnd(
  mongoUrlFor: (db: string) => string,
  amqpUrl: string,
  redisUrl: string,
  tasks: number,
  workers: number,
): Promise<EndToEndResult> {
  const sys = await startBenchSystem(mongoUrlFor, amqpUrl, { agentConcurrency: workers });
  let upletTasksPerSecond: number;
  let todoDocs: Array<{ _id: string }>;
  const events = new AmqpBroker({ url: amqpUrl, topology: workTopology(sys.prefix), logger: silentLogger() });
  try {
    await events.start();
    for (const [name, script] of [
      ['wf', NOOP_WORKFLOW],
      ['algo', NOOP_ALGO],
    ] as const) {
      fs.mkdirSync(path.join(sys.dir, name));
      fs.writeFileSync(path.join(sys.dir, name, 'run'), script, { mode: 0o755 });
      await packArchive(path.join(sys.dir, name), path.join(sys.dir, `${name}.tar.gz`));
    }
    await sys.storageAs('org').uploadFile('workflow', 'nwf', path.join(sys.dir, 'wf.tar.gz'));
    await sys.storageAs('org').uploadFile('algo', 'nalgo', path.join(sys.dir, 'algo.tar.gz'));
    fs.writeFileSync(path.join(sys.dir, 'item.csv'), 'x,label\n1,0\n');
    const items = ['nd0', 'nt0', ...Array.from({ length: tasks }, (_, i) => `np${i}`)];
    for (const uuid of items) await sys.storageAs('org').uploadFile('data', uuid, path.join(sys.dir, 'item.csv'));
    await sys.call('POST', '/problem', { uuid: 'np', workflow: 'nwf', test_dataset: ['nt0'], size_train_dataset: 1 });
    await sys.call('POST', '/data', { uuid: ['nd0', 'nt0'], problems: 'np' });
    await sys.call('POST', '/algo', { uuid: 'nalgo', name: 'noop', problem: 'np' });
    await waitUntil(async () => {
      const [l] = (await sys.call('GET', '/learnuplet?problem=np')).learnuplets;
      if (l?.status === 'failed') throw new Error(`the no-op learnuplet failed: ${l.failure_reason}`);
      return l?.status === 'done';
    });

    // Predictions name only data their requester registered (to no problem here); not timed.
    await sys.call('POST', '/data', { uuid: items.slice(2), problems: [] });
    // Their ends are heard on the events exchange, not polled through the API (a listing every 50 ms
    // loaded the orchestrator and FerretDB being measured).
    const done = new Set<string>();
    let failed: string | undefined;
    let allDone!: () => void;
    const finished = new Promise<void>((resolve) => (allDone = resolve));
    await events.subscribe(workTopology(sys.prefix).eventsExchange, 'preduplet.*', (content, key) => {
      const id = (JSON.parse(content.toString('utf8')) as { id?: string }).id;
      if (!id) return;
      if (key === 'preduplet.failed') failed ??= id;
      if (key === 'preduplet.done') done.add(id);
      if (failed || done.size === tasks) allDone();
    });
    const started = performance.now();
    await sys.call('POST', '/data', { uuid: items.slice(2), problems: [] });
    await sys.call('POST', '/prediction', { data: items.slice(2), problem: 'np' });
    await Promise.race([finished, new Promise((_, reject) => setTimeout(() => reject(new Error('benchmark did not finish in time')), 300_000).unref())]);
    upletTasksPerSecond = tasks / ((performance.now() - started) / 1000);
    if (failed) {
      const doc = await sys.orchestrator.collections.preduplets.findOne({ _id: failed });
      throw new Error(`a no-op preduplet failed: ${doc?.failure_reason}`);
    }
    // The same preduplets as they were when requested, for the raw fence cycle.
    todoDocs = (await sys.orchestrator.collections.preduplets.find({ problem: 'np' }).toArray()).map((d) => ({
      ...d,
      status: 'todo' as const,
      attempt: 0,
      worker: null,
      timestamp_claimed: null,
      timestamp_done: null,
      prediction_storage_uuid: null,
    }));
  } finally {
    await events.close();
    await sys.close();
  }
  const rawDb = `bench_e2e_raw_${crypto.randomBytes(3).toString('hex')}`;

  return {
    tasks,
    workers,
    upletTasksPerSecond,
    rawFenceCyclesPerSecond: (await rawFenceCycles(mongoUrlFor(rawDb), todoDocs, workers)).perSecond,
    bullmqJobsPerSecond: await bullmqNoop(redisUrl, tasks, workers),
    sandboxSpawn: await sandboxSpawns(Math.min(tasks, 100)),
    spawnsPerTask: 2,
  };
}

async function bullmqNoop(redisUrl: string, jobs: number, workers: number): Promise<number> {
  const u = new URL(redisUrl);
  const connection = { host: u.hostname, port: Number(u.port || 6379) };
  const name = `uplet-bench-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const worker = new Worker(name, async () => undefined, { connection, concurrency: workers });
  worker.on('completed', () => {
    if (++done === jobs) finished();
  });
  await worker.waitUntilReady();
  const started = performance.now();
  await queue.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: 'noop', data: { i } })));
  await all;
  const rate = jobs / ((performance.now() - started) / 1000);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return rate;
}

async function sandboxSpawns(n: number): Promise<LatencySummary> {
  const caps = await probeSandbox();
  const lat: number[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await runSandboxed({ argv: ['/bin/true'], cwd: '/task', mounts: [], limits: { ...DEFAULT_LIMITS, wallClockMs: 10_000 } }, caps);
    if (r.reason) throw new Error(`sandboxed /bin/true failed: ${r.reason} ${r.stderrTail}`);
    lat.push(performance.now() - t0);
  }
  return summarize(lat, (performance.now() - started) / 1000);
}

async function waitUntil(cond: () => Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('benchmark did not finish in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
