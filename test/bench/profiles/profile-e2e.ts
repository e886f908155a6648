/**
 * Where a no-op preduplet's time goes (issue 22): the end-to-end scenario of test/bench/end-to-end-bench.ts
 * with every step of the agent timed (claim, downloads, sandboxed spawns, upload, report) and the gaps
 * between them. `npx tsc -p tsconfig.bench.json && N=40 node dist/test/bench/profiles/profile-e2e.js`
 * (FerretDB on PostgreSQL, as the benchmarks use). PROF=<dir>: a CPU profile of this process over the timed part.
 */
import fs from 'node:fs';
import inspector from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { startLocalMongoServer } from '../../../standalone/local-db/local-mongo-server';
import { packArchive } from '../../../standalone/pack-archive';
import { startBenchSystem } from '../bench-system';
import { OrchestratorClient } from '../../../shared/http/orchestrator-client';
import { StorageClient } from '../../../shared/http/storage-client';
import * as sandbox from '../../../compute-agent/sandbox/sandboxed-command';
import { TaskWorkspace } from '../../../compute-agent/tasks/task-workspace';

/** Step name → durations (ms); spans by task uuid for the gaps. */
const durations = new Map<string, number[]>();
const spans: Array<{ step: string; start: number; end: number }> = [];
function timed<T extends object>(target: T, name: keyof T & string, step: string = name): void {
  const original = target[name] as unknown as (...a: unknown[]) => Promise<unknown>;
  (target as Record<string, unknown>)[name] = async function (this: unknown, ...args: unknown[]) {
    const start = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      const end = performance.now();
      const label =
        step === 'run'
          ? `run ${String(args[0])}`
          : step === 'downloadToFile' || step === 'fetchToFile' || step === 'uploadFile'
            ? `${step} ${String(args[0])}`
            : step;
      (durations.get(label) ?? durations.set(label, []).get(label)!).push(end - start);
      spans.push({ step: label, start, end });
    }
  };
}

const NOOP_WORKFLOW = `#!/bin/sh
if [ "$1" = detarget ]; then cp "$2"/* "$3"/; exit 0; fi
printf '{"perf":1,"perfs":{' > "$4"; sep=''
for f in "$3"/*; do printf '%s"%s":1' "$sep" "$(basename "$f")" >> "$4"; sep=','; done
printf '},"metrics":{}}' >> "$4"
`;
const NOOP_ALGO = '#!/bin/sh\nif [ "$1" = train ]; then : > "$4"; else for f in "$2"/*; do echo probability > "$4/$(basename "$f")"; done; fi\n';

async function main() {
  const server = await startLocalMongoServer({ dataDir: path.join(os.tmpdir(), 'uplet-bench'), log: () => undefined, skipMemoryServer: true });
  if (server.ferret?.backend.kind === 'postgresql') process.env.UPLET_BENCH_FERRET_PG = server.ferret.backend.url;
  const amqpUrl = 'amqp://guest:guest@127.0.0.1:5672';
  const workers = Number(process.env.WORKERS ?? 2);
  // AGENT_PROCESS=1: the agent in a process of its own (its steps are then not timed here).
  const sys = await startBenchSystem((db) => server.urlFor(db), amqpUrl, { agentConcurrency: workers, agentProcesses: process.env.AGENT_PROCESS === '1' });
  const tasks = Number(process.env.N ?? 40);
  try {
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
    for (;;) {
      const [l] = (await sys.call('GET', '/learnuplet?problem=np')).learnuplets;
      if (l?.status === 'failed') throw new Error(`the no-op learnuplet failed: ${l.failure_reason}`);
      if (l?.status === 'done') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await sys.call('POST', '/data', { uuid: items.slice(2), problems: [] });

    timed(OrchestratorClient.prototype, 'claim');
    timed(OrchestratorClient.prototype, 'report');
    timed(StorageClient.prototype, 'downloadToFile');
    if ('fetchToFile' in StorageClient.prototype) timed(StorageClient.prototype, 'fetchToFile', 'fetchToFile');
    timed(StorageClient.prototype, 'uploadFile');
    timed(StorageClient.prototype, 'meta');
    timed(TaskWorkspace.prototype, 'archive');
    timed(TaskWorkspace.prototype, 'run');
    timed(TaskWorkspace.prototype, 'outputDir');
    timed(TaskWorkspace.prototype, 'remove');
    timed(TaskWorkspace, 'create', 'workspace create');
    timed(sandbox as unknown as Record<string, unknown>, 'runSandboxed');

    const profiler = process.env.PROF ? new inspector.Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    const { preduplets } = await sys.call('POST', '/prediction', { data: items.slice(2), problem: 'np' });
    const requested = performance.now();
    // Polled through the driver, not HTTP: the poll itself should not load the orchestrator being measured.
    for (;;) {
      const done = await sys.orchestrator.collections.preduplets.countDocuments({ problem: 'np', status: 'done' });
      if (done === preduplets.length) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      fs.mkdirSync(process.env.PROF!, { recursive: true });
      fs.writeFileSync(path.join(process.env.PROF!, `e2e-${process.pid}.cpuprofile`), JSON.stringify(profile));
      profiler.disconnect();
    }
    const docs = await sys.orchestrator.collections.preduplets.find({ problem: 'np' }).toArray();
    const ms = (d: Date | undefined) => (d ? d.getTime() : NaN);
    const lag = docs.map((d) => ms(d.timestamp_claimed as Date) - ms(d.timestamp_todo as Date)).sort((a, b) => a - b);
    const run = docs.map((d) => ms(d.timestamp_done as Date) - ms(d.timestamp_claimed as Date)).sort((a, b) => a - b);
    const med = (a: number[]) => (a.length ? [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]! : NaN);
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    console.log(
      `${tasks} no-op preduplets, ${workers} workers: ${(tasks / seconds).toFixed(1)} tasks/s, ${seconds.toFixed(2)} s (POST /prediction ${(requested - started).toFixed(0)} ms)`,
    );
    console.log(`per task, slot-ms available: ${((seconds * 1000 * workers) / tasks).toFixed(0)}`);
    // Orchestrator, gateway and agents share this process: their CPU per task, whatever the load (sandboxed children not included).
    console.log(`Node CPU per task (orchestrator + gateway + agents): ${((cpu.user + cpu.system) / 1000 / tasks).toFixed(1)} ms`);
    console.log(`orchestrator stamps: todo→claimed p50 ${med(lag)} ms, claimed→done p50 ${med(run)} ms`);
    console.log('step                      count   p50 ms   mean ms  total ms/task');
    for (const [step, d] of [...durations].sort((a, b) => sum(b[1]) - sum(a[1])))
      console.log(
        `${step.padEnd(24)} ${String(d.length).padStart(6)} ${med(d).toFixed(1).padStart(8)} ${(sum(d) / d.length).toFixed(1).padStart(9)} ${(sum(d) / tasks).toFixed(1).padStart(9)}`,
      );
  } finally {
    await sys.close();
    await server.stop();
  }
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
