import { MongoClient } from 'mongodb';
import { silentLogger } from '../../shared/logging/logger';
import { OrchestratorMetrics } from '../../orchestrator/metrics';
import { collectionsOf, ensureIndexes, type Collections } from '../../orchestrator/persistence/collections';
import { ChainKeeper } from '../../orchestrator/work/chain-keeper';
import { ClaimHints } from '../../orchestrator/work/claim-hints';
import { Registration } from '../../orchestrator/work/registration';
import { taskKindTable } from '../../orchestrator/work/task-kinds';
import { WorkLeases } from '../../orchestrator/work/work-leases';
import { openTestDatabase, TEST_POOL_SIZE, type TestDatabase } from '../harness/test-database';

/**
 * A replica's claim of a task it has just written as todo starts its capability reads beside
 * its read of the task (issue 22's dispatch latency), and uses them only when the task read is
 * the one written: a changed task is granted what it, as read, may open, never what the hint said.
 */
describe('claim hints', () => {
  let database: TestDatabase;
  let client: MongoClient;
  let c: Collections;
  let registration: Registration;
  let leases: WorkLeases;
  let metrics: OrchestratorMetrics;
  const commands: string[] = [];
  const owner = { name: 'p', roles: ['organizer', 'data-provider', 'algo-author'] } as never;
  const node = { name: 'node', roles: ['compute'] } as never;

  const hintOutcomes = async () =>
    Object.fromEntries((await metrics.claimHints.get()).values.map((v) => [`${String(v.labels.kind)} ${String(v.labels.outcome)}`, v.value]));

  beforeAll(async () => {
    database = await openTestDatabase('claimhints');
    client = new MongoClient(database.url, { maxPoolSize: TEST_POOL_SIZE, monitorCommands: true });
    await client.connect();
    // `<command> <collection>` of each command, by request id: started, then answered.
    const names = new Map<number, string>();
    client.on('commandStarted', (e) => {
      names.set(e.requestId, `${e.commandName} ${String(e.command[e.commandName] as string)}`);
      commands.push(`started ${names.get(e.requestId)}`);
    });
    client.on('commandSucceeded', (e) => void commands.push(`answered ${names.get(e.requestId)}`));
    c = collectionsOf(client.db(database.dbName));
    await ensureIndexes(c);
    const hints = new ClaimHints();
    const dispatcher = hints.recording({ dispatch: async () => undefined });
    const chains = new ChainKeeper(c, dispatcher, silentLogger());
    registration = new Registration(c, chains, dispatcher);
    metrics = new OrchestratorMetrics();
    leases = new WorkLeases(c, taskKindTable(c, chains), dispatcher, { leaseMs: 60_000, maxAttempts: 3 }, silentLogger(), metrics, undefined, hints);
    await registration.postProblem({ uuid: 'hp', workflow: 'wf', test_dataset: ['ht'], size_train_dataset: 1, metric_direction: 'higher' }, owner);
    await registration.postData({ uuids: ['hd', 'ht'], problems: ['hp'] }, owner);
  });
  afterAll(async () => {
    await client.close();
    await database.cleanup();
  });

  test("a new algo's first rank: the test data's registration check goes out before the task read answers, and grants what the task may read", async () => {
    await registration.postAlgo({ uuid: 'ha', name: 'a', problem: 'hp' }, owner);
    const [rank0] = await c.learnuplets.find({ algo: 'ha', rank: 0 }).toArray();
    commands.length = 0;
    const grant = await leases.claim('learnuplet', rank0!.uuid, 'w', node);
    expect(commands.indexOf('started find datas')).toBeGreaterThanOrEqual(0);
    expect(commands.indexOf('started find datas')).toBeLessThan(commands.indexOf('answered find learnuplets'));
    expect([...(grant.lease.reads ?? [])].sort()).toEqual(['data/hd', 'data/ht']);
    expect(grant.lease.writes).toEqual([`model/${rank0!.model_end}`]);
    expect(await hintOutcomes()).toMatchObject({ 'learnuplet used': 1 });
    // A trained model, which the predictions below need.
    await leases.report('learnuplet', rank0!.uuid, { status: 'done', perf: 1, train_perf: {}, test_perf: {}, lease_token: grant.lease_token }, node);
  });

  test('a task changed after its todo write is granted what it may read as read, not what was written', async () => {
    await registration.postData({ uuids: ['hx'], problems: [] }, owner);
    const [uuid] = (await registration.requestPrediction({ data: ['hx'], problem: 'hp' }, owner)).map((p) => p.uuid);
    // Another writer (as if) hands the prediction to someone who does not own its data.
    await c.preduplets.updateOne({ _id: uuid! }, { $set: { owner: 'intruder' } });
    const grant = await leases.claim('preduplet', uuid!, 'w', node);
    // The hint said the requester owns hx; the task as read says otherwise: nothing to read.
    expect(grant.lease.reads).toEqual([]);
    expect(await hintOutcomes()).toMatchObject({ 'preduplet stale': 1 });
  });

  test('a claim whose task was not written by this replica (no hint) grants the same as before', async () => {
    await registration.postData({ uuids: ['hy'], problems: [] }, owner);
    const [uuid] = (await registration.requestPrediction({ data: ['hy'], problem: 'hp' }, owner)).map((p) => p.uuid);
    // Taken away as another replica's claim would never have had it.
    await new WorkLeases(
      c,
      taskKindTable(c, new ChainKeeper(c, { dispatch: async () => undefined }, silentLogger())),
      { dispatch: async () => undefined },
      { leaseMs: 60_000, maxAttempts: 3 },
      silentLogger(),
      metrics,
    )
      .claim('preduplet', uuid!, 'w', node)
      .then((grant) => expect(grant.lease.reads).toEqual(['data/hy']));
    expect(await hintOutcomes()).toMatchObject({ 'preduplet none': 1 });
  });
});
