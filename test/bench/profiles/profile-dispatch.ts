/**
 * Profile of dispatch (issue 22): a timeline, per sample, of what happens between a learnuplet's
 * timestamp_todo and its timestamp_claimed: driver commands, the publish and its confirm, the agent's
 * claim. `npx tsc -p tsconfig.bench.json && N=6 node dist/test/bench/profiles/profile-dispatch.js`.
 */
import { MongoClient, type CommandStartedEvent, type CommandSucceededEvent } from 'mongodb';
const clients: MongoClient[] = [];
const origConnect = MongoClient.prototype.connect;
MongoClient.prototype.connect = function (this: MongoClient) {
  (this as any).options.monitorCommands = true;
  clients.push(this);
  return origConnect.call(this);
};
import os from 'node:os';
import path from 'node:path';
import { startLocalMongoServer } from '../../../standalone/local-db/local-mongo-server';
import { startBenchSystem } from '../bench-system';
import { AmqpBroker } from '../../../shared/messaging/amqp-broker';
import { OrchestratorClient } from '../../../shared/http/orchestrator-client';

const events: Array<{ t: number; what: string }> = [];
const mark = (what: string) => events.push({ t: Date.now() + (performance.now() % 1), what });
function watch(c: MongoClient) {
  const started = new Map<number, { e: CommandStartedEvent; t: number }>();
  c.on('commandStarted', (e) => started.set(e.requestId, { e, t: performance.now() }));
  c.on('commandSucceeded', (e: CommandSucceededEvent) => {
    const s = started.get(e.requestId);
    if (!s) return;
    const cmd = s.e.command as any;
    const coll = String(cmd[s.e.commandName] ?? '');
    const filter = JSON.stringify(cmd.filter ?? cmd.updates?.[0]?.q ?? cmd.deletes?.[0]?.q ?? cmd.documents?.[0]?._id ?? '', (_k, v) =>
      typeof v === 'string' ? '*' : v,
    );
    mark(`db ${s.e.commandName} ${coll} ${filter} (${e.duration} ms)`);
  });
}
const origPublish = AmqpBroker.prototype.publish;
AmqpBroker.prototype.publish = async function (this: AmqpBroker, q: string, m: object) {
  mark(`publish start ${q}`);
  await origPublish.call(this, q, m);
  mark(`publish confirmed`);
};
const origClaim = OrchestratorClient.prototype.claim;
OrchestratorClient.prototype.claim = async function (this: any, ...args: any[]) {
  mark(`agent claim start`);
  try {
    return await (origClaim as any).apply(this, args);
  } finally {
    mark(`agent claim answered`);
  }
} as any;

async function main() {
  const server = await startLocalMongoServer({ dataDir: path.join(os.tmpdir(), 'uplet-bench'), log: () => undefined, skipMemoryServer: true });
  if (server.ferret?.backend.kind === 'postgresql') process.env.UPLET_BENCH_FERRET_PG = server.ferret.backend.url;
  const sys = await startBenchSystem((db) => server.urlFor(db), 'amqp://guest:guest@127.0.0.1:5672', {
    agentConcurrency: 1,
    orchestrator: { MAX_ATTEMPTS: '1' },
  });
  clients.forEach(watch);
  await sys.call('POST', '/problem', { uuid: 'dp', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
  await sys.call('POST', '/data', { uuid: 'dd', problems: 'dp' });
  for (let i = 0; i < Number(process.env.N ?? 8); i++) {
    await new Promise((r) => setTimeout(r, 300));
    events.length = 0;
    mark('POST /algo');
    await sys.call('POST', '/algo', { uuid: `da${i}`, name: 'a', problem: 'dp' });
    mark('POST /algo answered');
    let l: any;
    for (;;) {
      [l] = (await sys.call('GET', `/learnuplet?algo=da${i}`)).learnuplets;
      if (l.timestamp_claimed) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    while (sys.agent!.running() > 0) await new Promise((r) => setTimeout(r, 2));
    const todo = new Date(l.timestamp_todo).getTime();
    const claimed = new Date(l.timestamp_claimed).getTime();
    console.log(`--- sample ${i}: todo→claimed ${claimed - todo} ms`);
    for (const e of events) if (e.t >= todo - 30 && e.t <= claimed + 40) console.log(`${(e.t - todo).toFixed(1).padStart(7)} ${e.what}`);
    console.log(`${(claimed - todo).toFixed(1).padStart(7)} timestamp_claimed`);
  }
  await sys.close();
  await server.stop();
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
