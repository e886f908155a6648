import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildFerretDb,
  createPostgresDatabase,
  dropPostgresDatabase,
  freePort,
  mongoUrlFor,
  startFerretDb,
  stopFerretDb,
  waitForExit,
  type FerretBackend,
  type FerretDbState,
} from '../../standalone/local-db/ferretdb-process';
import { packArchive } from '../../standalone/pack-archive';
import { MongoClient } from 'mongodb';
import { StorageClient } from '../../shared/http/storage-client';
import { callAs, TEST_CAPABILITY_SECRET, TEST_KEYS, type Reply, type TestRole } from './orchestrator-fixture';
import { startServiceProcess, waitForHttp, type ServiceProcess } from './service-process';
import { deleteTestTopology, testAmqpPrefix, testAmqpUrl } from './test-broker';
import { EXAMPLE_DIR, exampleItem } from './system-fixture';

/** A wrapper of the example algo whose trainings take as long as a fault scenario needs. */
const SLOW_ALGO_DIR = path.join(__dirname, '../fixtures/slow-algo');

/**
 * Every service as its own process (from the build), over a FerretDB of the
 * cluster's own (so it can be restarted without touching other test files), and
 * queues of its own on the shared broker: faults are injected for real.
 */
const TERMINAL = ['done', 'failed', 'canceled'];

export interface FaultFigures {
  uplets: number;
  done: number;
  failed: number;
  /** Attempts beyond the first, over all uplets. */
  retries: number;
  /** Uplets not terminal when the wait ended. */
  lost: number;
  /** Uplets with more than one recorded done result. */
  duplicated: number;
  doneWithoutReport: number;
  modelsMissing: number;
  expiries: number;
  statuses: string[];
  reasons: Array<string | null>;
}

export function figuresLine(scenario: string, faults: number, f: FaultFigures): string {
  return `fault ${scenario}: uplets ${f.uplets} (done ${f.done}, failed ${f.failed}), faults injected ${faults}, retries ${f.retries}, lease expiries ${f.expiries}, lost ${f.lost}, duplicated ${f.duplicated}`;
}

export class FaultCluster {
  readonly prefix: string;
  readonly work: string;
  orchestrator?: ServiceProcess;
  storage?: ServiceProcess;
  readonly agents = new Map<string, ServiceProcess>();
  private ferret?: FerretDbState;
  private backend?: FerretBackend;
  private ferretBinary = '';
  private dbPort = 0;
  private orchestratorPort = 0;
  private storagePort = 0;
  private readonly pgName: string;

  constructor(
    label: string,
    private readonly settings: Record<string, string> = {},
  ) {
    this.prefix = testAmqpPrefix(label);
    this.work = fs.mkdtempSync(path.join(os.tmpdir(), `uplet-fault-${label}-`));
    this.pgName = `uplet_fault_${label}_${crypto.randomBytes(3).toString('hex')}`;
  }

  get orchestratorUrl(): string {
    return `http://127.0.0.1:${this.orchestratorPort}`;
  }

  get storageUrl(): string {
    return `http://127.0.0.1:${this.storagePort}`;
  }

  async start(agentNames: string[]): Promise<void> {
    this.ferretBinary = await buildFerretDb();
    this.backend = await createPostgresDatabase(this.pgName);
    this.dbPort = await freePort();
    await this.startDatabase();
    this.orchestratorPort = await freePort();
    this.storagePort = await freePort();
    await this.startOrchestrator();
    await this.startStorage();
    for (const name of agentNames) await this.startAgent(name);
  }

  async startDatabase(): Promise<void> {
    this.ferret = await startFerretDb(this.ferretBinary, this.backend!, this.dbPort, path.join(this.work, 'ferretdb.log'));
  }

  async killDatabase(): Promise<void> {
    stopFerretDb(this.ferret!, 'SIGKILL');
    await waitForExit(this.ferret!.pid, 5_000);
  }

  async startOrchestrator(): Promise<void> {
    this.orchestrator = startServiceProcess('orchestrator/main.js', {
      MONGO_URL: mongoUrlFor(this.dbPort, 'uplet'),
      MONGO_POOL_SIZE: '8',
      AMQP_URL: testAmqpUrl(),
      AMQP_PREFIX: this.prefix,
      ORCHESTRATOR_PORT: String(this.orchestratorPort),
      UPLET_API_KEYS: JSON.stringify(Object.values(TEST_KEYS)),
      UPLET_CAPABILITY_SECRET: TEST_CAPABILITY_SECRET,
      LEASE_SECONDS: '3',
      REAPER_INTERVAL_MS: '300',
      SWEEP_INTERVAL_MS: '1000',
      REPUBLISH_AFTER_MS: '3000',
      MAX_ATTEMPTS: '3',
      LOG_LEVEL: 'warn',
      ...this.settings,
    });
    await waitForHttp(`${this.orchestratorUrl}/healthz`, 30_000);
  }

  async startStorage(): Promise<void> {
    this.storage = startServiceProcess('storage-gateway/main.js', {
      STORAGE_PORT: String(this.storagePort),
      STORAGE_DIR: path.join(this.work, 'blobs'),
      UPLET_API_KEYS: JSON.stringify(Object.values(TEST_KEYS)),
      UPLET_CAPABILITY_SECRET: TEST_CAPABILITY_SECRET,
      LOG_LEVEL: 'warn',
    });
    await waitForHttp(`${this.storageUrl}/healthz`, 30_000);
  }

  async startAgent(name: string): Promise<ServiceProcess> {
    const agent = startServiceProcess('compute-agent/main.js', {
      ORCHESTRATOR_URL: this.orchestratorUrl,
      STORAGE_URL: this.storageUrl,
      AMQP_URL: testAmqpUrl(),
      AMQP_PREFIX: this.prefix,
      AGENT_API_KEY: TEST_KEYS.compute.key,
      AGENT_NAME: name,
      AGENT_WORK_DIR: path.join(this.work, `agent-${name}`),
      HEARTBEAT_INTERVAL_MS: '500',
      SHUTDOWN_GRACE_MS: '1000',
      LOG_LEVEL: 'warn',
    });
    this.agents.set(name, agent);
    return agent;
  }

  async kill(p: ServiceProcess | undefined): Promise<void> {
    if (p) await p.stop('SIGKILL');
  }

  /** The broker's connections from this cluster's services (their connection pids). */
  brokerConnections(): string[] {
    const out = execFileSync('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { encoding: 'utf8' });
    return out
      .split('\n')
      .filter((l) => l.includes(`@${this.prefix}`))
      .map((l) => l.split('\t')[0]!);
  }

  /** Closes, from the broker's side, every connection of this cluster's services. */
  closeBrokerConnections(): number {
    const pids = this.brokerConnections();
    for (const pid of pids) execFileSync('rabbitmqctl', ['-q', 'close_connection', pid, 'fault injected by the test']);
    return pids.length;
  }

  call(role: TestRole, method: string, p: string, body?: unknown): Promise<Reply> {
    return callAs(this.orchestratorUrl, role, method, p, body);
  }

  storageAs(role: TestRole): StorageClient {
    return new StorageClient({ baseUrl: this.storageUrl, apiKey: TEST_KEYS[role].key, retry: { retries: 8 } });
  }

  /** A problem with one algo whose training takes `trainSeconds`, and `ranks` minibatches of one item each. */
  async seedProblem(problem: string, ranks: number, trainSeconds: number): Promise<void> {
    const algoDir = path.join(this.work, `algo-${problem}`);
    fs.mkdirSync(algoDir, { recursive: true });
    // The real algo behind a fixture that slows each training down, so that faults land in the middle of one.
    fs.copyFileSync(path.join(SLOW_ALGO_DIR, 'run'), path.join(algoDir, 'run'));
    fs.copyFileSync(path.join(EXAMPLE_DIR, 'algo-logreg', 'run'), path.join(algoDir, 'logreg'));
    fs.writeFileSync(path.join(algoDir, 'train-seconds'), String(trainSeconds));
    for (const file of ['run', 'logreg']) fs.chmodSync(path.join(algoDir, file), 0o755);
    await packArchive(algoDir, path.join(this.work, `${problem}-algo.tar.gz`));
    await packArchive(path.join(EXAMPLE_DIR, 'workflow'), path.join(this.work, `${problem}-wf.tar.gz`));
    await this.storageAs('organizer').uploadFile('workflow', `${problem}-wf`, path.join(this.work, `${problem}-wf.tar.gz`));
    await this.storageAs('author').uploadFile('algo', `${problem}-algo`, path.join(this.work, `${problem}-algo.tar.gz`));
    const items = [...Array.from({ length: ranks }, (_, i) => `bc-train-${String(i).padStart(2, '0')}`), 'bc-test-0'];
    // Data uuids are per problem, so scenarios never share a blob.
    for (const item of items) await this.storageAs('provider').uploadFile('data', `${problem}-${item}`, exampleItem(item));
    const created = await this.call('organizer', 'POST', '/problem', {
      uuid: problem,
      workflow: `${problem}-wf`,
      test_dataset: [`${problem}-bc-test-0`],
      size_train_dataset: 1,
    });
    // The test item too (it stays out of the minibatches): capabilities open test data only once its provider registered it to the problem.
    const data = await this.call('provider', 'POST', '/data', { uuid: items.map((t) => `${problem}-${t}`), problems: problem });
    const algo = await this.call('author', 'POST', '/algo', { uuid: `${problem}-algo`, name: 'slow logreg', problem });
    for (const r of [created, data, algo]) if (r.status !== 201) throw new Error(`seeding ${problem}: ${JSON.stringify(r.body)}`);
  }

  /** Waits until every uplet of the problem is terminal, then counts what the fault suite reports. */
  async settle(problem: string, timeoutMs: number): Promise<FaultFigures> {
    const deadline = Date.now() + timeoutMs;
    let uplets: any[] = [];
    for (;;) {
      const r = await this.call('reader', 'GET', `/learnuplet?problem=${problem}&limit=1000`).catch(() => undefined);
      if (r?.status === 200) {
        uplets = r.body.learnuplets;
        if (uplets.every((u) => TERMINAL.includes(u.status))) break;
      }
      if (Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 300));
    }
    const client = new MongoClient(mongoUrlFor(this.dbPort, 'uplet'), { maxPoolSize: 2 });
    try {
      const settlements = await client
        .db('uplet')
        .collection('settlements')
        .find({ uplet: { $in: uplets.map((u) => u.uuid) } })
        .toArray();
      const doneReports = (uuid: string) => settlements.filter((x) => x.uplet === uuid && x.by === 'report' && x.status === 'done').length;
      let modelsMissing = 0;
      for (const u of uplets.filter((x) => x.status === 'done')) {
        const head = await fetch(`${this.storageUrl}/blobs/model/${u.model_end}`, { method: 'HEAD', headers: { 'x-api-key': TEST_KEYS.compute.key } });
        if (head.status !== 200) modelsMissing++;
      }
      return {
        uplets: uplets.length,
        done: uplets.filter((u) => u.status === 'done').length,
        failed: uplets.filter((u) => u.status === 'failed').length,
        retries: uplets.reduce((n, u) => n + Math.max(0, u.attempt - 1), 0),
        lost: uplets.filter((u) => !TERMINAL.includes(u.status)).length,
        duplicated: uplets.filter((u) => doneReports(u.uuid) > 1).length,
        doneWithoutReport: uplets.filter((u) => u.status === 'done' && doneReports(u.uuid) !== 1).length,
        modelsMissing,
        expiries: settlements.filter((x) => x.by === 'expiry').length,
        statuses: uplets.map((u) => u.status),
        reasons: uplets.map((u) => u.failure_reason),
      };
    } finally {
      await client.close();
    }
  }

  /** How many `done` reports each task's settlements record (exactly one for a task done once). */
  async doneReports(taskUuids: string[]): Promise<Map<string, number>> {
    const client = new MongoClient(mongoUrlFor(this.dbPort, 'uplet'), { maxPoolSize: 2 });
    try {
      const settlements = await client
        .db('uplet')
        .collection('settlements')
        .find({ uplet: { $in: taskUuids }, by: 'report', status: 'done' })
        .toArray();
      return new Map(taskUuids.map((uuid) => [uuid, settlements.filter((x) => x.uplet === uuid).length]));
    } finally {
      await client.close();
    }
  }

  async stop(): Promise<void> {
    for (const a of this.agents.values()) await a.stop('SIGKILL').catch(() => undefined);
    await this.orchestrator?.stop('SIGKILL').catch(() => undefined);
    await this.storage?.stop('SIGKILL').catch(() => undefined);
    if (this.ferret) {
      stopFerretDb(this.ferret, 'SIGKILL');
      await waitForExit(this.ferret.pid, 5_000);
    }
    await dropPostgresDatabase(this.pgName).catch(() => undefined);
    await deleteTestTopology(this.prefix).catch(() => undefined);
    fs.rmSync(this.work, { recursive: true, force: true });
  }
}
