import * as amqp from 'amqplib';
import { MongoClient, type CommandStartedEvent } from 'mongodb';
import { silentLogger } from '../../shared/logging/logger';
import type { TaskKind } from '../../orchestrator/domain/documents';
import type { WorkDispatcher } from '../../orchestrator/work/work-dispatcher';
import { collectionsOf, ensureIndexes, type Collections } from '../../orchestrator/persistence/collections';
import { ChainKeeper } from '../../orchestrator/work/chain-keeper';
import { Registration } from '../../orchestrator/work/registration';
import { taskKindTable } from '../../orchestrator/work/task-kinds';
import { WorkLeases } from '../../orchestrator/work/work-leases';
import { openTestDatabase, TEST_POOL_SIZE, type TestDatabase } from '../harness/test-database';
import { deleteTestTopology, openTestBroker, testAmqpPrefix, testAmqpUrl } from '../harness/test-broker';
import { AmqpWorkDispatcher } from '../../orchestrator/messaging/amqp-work-dispatcher';
import { workTopology } from '../../shared/messaging/work-topology';

/**
 * Database round trips of the hot paths (issue 22), counted with the driver's command monitoring:
 * on FerretDB every command costs a PostgreSQL round trip, so a command added to a claim, a
 * report or a dispatch shows here before it shows in a benchmark.
 */
const NO_DISPATCH: WorkDispatcher = { dispatch: async () => undefined };

describe('work round trips', () => {
  let database: TestDatabase;
  let client: MongoClient;
  let c: Collections;
  let registration: Registration;
  let leases: WorkLeases;
  const started: CommandStartedEvent[] = [];
  const dispatched: Array<{ kind: TaskKind; uuids: readonly string[]; site: string | undefined; commandsBefore: number }> = [];
  const owner = { name: 'p', roles: ['organizer', 'data-provider', 'algo-author'] } as never;
  const node = { name: 'node', roles: ['compute'] } as never;

  /** The commands `work` sends, as `<command> <collection>`. */
  const commandsOf = async (work: () => Promise<unknown>): Promise<string[]> => {
    started.length = 0;
    await work();
    return started.map((e) => `${e.commandName} ${String((e.command as Record<string, unknown>)[e.commandName])}`);
  };

  beforeAll(async () => {
    database = await openTestDatabase('roundtrips');
    client = new MongoClient(database.url, { maxPoolSize: TEST_POOL_SIZE, monitorCommands: true });
    await client.connect();
    client.on('commandStarted', (e) => void started.push(e));
    c = collectionsOf(client.db(database.dbName));
    await ensureIndexes(c);
    // A recording port: which site each dispatch names, and how many commands ran before it.
    const dispatcher: WorkDispatcher = {
      dispatch: async (kind, uuids, site) => void dispatched.push({ kind, uuids, site, commandsBefore: started.length }),
    };
    const chains = new ChainKeeper(c, dispatcher, silentLogger());
    registration = new Registration(c, chains, dispatcher);
    leases = new WorkLeases(c, taskKindTable(c, chains), dispatcher, { leaseMs: 60_000, maxAttempts: 3 }, silentLogger());
    await registration.postProblem({ uuid: 'rp', workflow: 'wf', test_dataset: ['t0'], size_train_dataset: 1, metric_direction: 'higher' }, owner);
    await registration.postData({ uuids: ['d0'], problems: ['rp'] }, owner);
  });
  afterAll(async () => {
    await client.close();
    await database.cleanup();
  });

  test('a rank started by a new algo is dispatched to its site straight after its insert', async () => {
    dispatched.length = 0;
    const commands = await commandsOf(() => registration.postAlgo({ uuid: 'ra', name: 'a', problem: 'rp' }, owner));
    expect(dispatched).toHaveLength(1);
    expect(dispatched[0]).toMatchObject({ kind: 'learnuplet', site: 'default' });
    // The todo write is the last command before the publish: rank 0's insert itself (it waits for no other rank).
    expect(commands[dispatched[0]!.commandsBefore - 1]).toBe('insert learnuplets');
    expect(commands).not.toContain('update learnuplets');
  });

  test('claim, heartbeat and report of a prediction: 4 + 2 + 2 commands once the sites of its algo and problem are known', async () => {
    const [rank0] = await c.learnuplets.find({ algo: 'ra', rank: 0 }).toArray();
    // The first claim of this code reads the algo's and the problem's sites; no later claim does.
    let grant!: Awaited<ReturnType<WorkLeases['claim']>>;
    const firstClaim = await commandsOf(async () => (grant = await leases.claim('learnuplet', rank0!.uuid, 'w', node)));
    expect(firstClaim).toEqual(expect.arrayContaining(['find algos', 'find problems']));
    await leases.report('learnuplet', rank0!.uuid, { status: 'done', perf: 1, train_perf: {}, test_perf: {}, lease_token: grant.lease_token }, node);
    await leases.flushSettledLeases(); // its lease's deletion, queued, would otherwise land among the commands counted below
    await registration.postData({ uuids: ['x0', 'x1'], problems: [] }, owner);
    const [first, second] = (await registration.requestPrediction({ data: ['x0', 'x1'], problem: 'rp' }, owner)).map((p) => p.uuid);
    expect((await commandsOf(() => leases.claim('preduplet', first!, 'w', node))).sort()).toEqual(
      ['find preduplets', 'find datas', 'insert leases', 'update preduplets'].sort(),
    );
    let token = '';
    const claim = await commandsOf(async () => (token = (await leases.claim('preduplet', second!, 'w', node)).lease_token));
    expect(claim.sort()).toEqual(['find preduplets', 'find datas', 'insert leases', 'update preduplets'].sort());
    // The lease as granted is remembered; the settlement (another replica may have settled it) is read.
    expect((await commandsOf(() => leases.heartbeat('preduplet', second!, token, node))).sort()).toEqual(['find settlements', 'update leases'].sort());
    // A first report to the replica that granted the claim reads neither its task nor its lease (the
    // claim's copies), wins the settlement fence without reading it, and answers with the document
    // as the done write left it; its lease is deleted later, with others (SettledLeaseDeleter).
    const done = { status: 'done' as const, prediction_storage_uuid: `prediction-${second!}-1`, lease_token: token };
    let answer: Awaited<ReturnType<typeof leases.report>> | undefined;
    expect(await commandsOf(async () => void (answer = await leases.report('preduplet', second!, done, node)))).toEqual([
      'insert settlements',
      'update preduplets',
    ]);
    const stored = await c.preduplets.findOne({ _id: second! });
    expect(answer).toEqual(stored);
    // Its retry is answered from the settlement, unchanged.
    expect((await leases.report('preduplet', second!, done, node)).status).toBe('done');
    await leases.flushSettledLeases();
  });

  /** A replica of its own on the same database: it granted nothing, so it remembers nothing. */
  const otherReplica = () =>
    new WorkLeases(c, taskKindTable(c, new ChainKeeper(c, NO_DISPATCH, silentLogger())), NO_DISPATCH, { leaseMs: 60_000, maxAttempts: 3 }, silentLogger());
  const predictions = async (n: number) => {
    const data = Array.from({ length: n }, (_, i) => `y-${Date.now()}-${i}`);
    await registration.postData({ uuids: data, problems: [] }, owner);
    return (await registration.requestPrediction({ data, problem: 'rp' }, owner)).map((p) => p.uuid);
  };
  const doneOf = (uuid: string, token: string) => ({ status: 'done' as const, prediction_storage_uuid: `prediction-${uuid}-1`, lease_token: token });

  test('a heartbeat or report to another replica reads the task and the lease, and ends the same way', async () => {
    const [uuid] = await predictions(1);
    const { lease_token } = await leases.claim('preduplet', uuid!, 'w', node);
    const other = otherReplica();
    expect((await commandsOf(() => other.heartbeat('preduplet', uuid!, lease_token, node))).sort()).toEqual(
      ['find leases', 'find settlements', 'update leases'].sort(),
    );
    expect(await commandsOf(() => other.report('preduplet', uuid!, doneOf(uuid!, lease_token), node))).toEqual([
      'find preduplets',
      'find leases',
      'insert settlements',
      'update preduplets',
    ]);
    expect(await c.preduplets.findOne({ _id: uuid! })).toMatchObject({ status: 'done', attempt: 1, worker: 'w' });
    // The granting replica's copy is stale now; the fence refuses a different second result there.
    const differing = { ...doneOf(uuid!, lease_token), prediction_storage_uuid: `prediction-${uuid!}-1`, extra: 1 };
    await expect(leases.report('preduplet', uuid!, differing, node)).rejects.toMatchObject({ code: 'LEASE_SETTLED' });
    await other.flushSettledLeases();
    expect(await c.leases.countDocuments({ _id: `${uuid!}/1` })).toBe(0);
  });

  test("a grant canceled through another replica: the holder's report to the granting replica is refused, the task stays canceled", async () => {
    const [uuid] = await predictions(1);
    const { lease_token } = await leases.claim('preduplet', uuid!, 'w', node);
    expect(await otherReplica().cancel('preduplet', uuid!, 'withdrawn', owner)).toBe(true);
    await expect(leases.report('preduplet', uuid!, doneOf(uuid!, lease_token), node)).rejects.toMatchObject({ code: 'LEASE_SETTLED' });
    expect(await c.preduplets.findOne({ _id: uuid! })).toMatchObject({ status: 'canceled', failure_reason: 'withdrawn' });
  });

  test('settled leases are deleted together, in one command; until then a settled lease grants nothing', async () => {
    const uuids = await predictions(3);
    const tokens: string[] = [];
    for (const uuid of uuids) tokens.push((await leases.claim('preduplet', uuid, 'w', node)).lease_token);
    for (const [i, uuid] of uuids.entries()) await leases.report('preduplet', uuid, doneOf(uuid, tokens[i]!), node);
    const ids = uuids.map((u) => `${u}/1`);
    // Not deleted yet (the batch waits for others): a heartbeat on one is refused all the same.
    expect(await c.leases.countDocuments({ _id: { $in: ids } })).toBe(3);
    await expect(leases.heartbeat('preduplet', uuids[0]!, tokens[0]!, node)).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await commandsOf(() => leases.flushSettledLeases())).toEqual(['delete leases']);
    expect(await c.leases.countDocuments({ _id: { $in: ids } })).toBe(0);
  });

  test('a settled lease whose deletion was lost with its process is deleted at expiry by the reaper, the task unchanged', async () => {
    const [uuid] = await predictions(1);
    const { lease, lease_token } = await leases.claim('preduplet', uuid!, 'w', node);
    await leases.report('preduplet', uuid!, doneOf(uuid!, lease_token), node);
    await leases.flushSettledLeases();
    // As if the process had died before its batch went: the lease is still there, and has expired.
    const lost = { ...lease, expires_at: new Date(Date.now() - 1_000) };
    await c.leases.insertOne(lost);
    expect(await otherReplica().expire(lost)).toBe(false);
    expect(await c.leases.countDocuments({ _id: lease._id })).toBe(0);
    expect(await c.preduplets.findOne({ _id: uuid! })).toMatchObject({ status: 'done', attempt: 1, failure_reason: null });
  });

  test('a first dispatch writes nothing to the database; a republish records when it was sent', async () => {
    const prefix = testAmqpPrefix('roundtrips');
    const broker = await openTestBroker(prefix);
    try {
      const amqpDispatcher = new AmqpWorkDispatcher(broker, workTopology(prefix), c, silentLogger());
      // Right after a todo write: the message goes out, and no command follows it.
      expect(await commandsOf(() => amqpDispatcher.dispatch('preduplet', ['q-first'], 'default'))).toEqual([]);
      expect(await c.dispatches.findOne({ _id: 'q-first' })).toBeNull();
      // The sweeper's republish: its time is recorded, so the next sweep skips it.
      const before = new Date();
      expect(await commandsOf(() => amqpDispatcher.dispatch('preduplet', ['q-again'], 'default', { republish: true }))).toEqual(['update dispatches']);
      expect((await c.dispatches.findOne({ _id: 'q-again' }))?.published_at.getTime()).toBeGreaterThanOrEqual(before.getTime());
      const conn = await amqp.connect(testAmqpUrl());
      try {
        const ch = await conn.createChannel();
        expect((await ch.checkQueue(workTopology(prefix).queues.preduplet)).messageCount).toBe(2);
      } finally {
        await conn.close();
      }
    } finally {
      await broker.close();
      await deleteTestTopology(prefix);
    }
  });
});
