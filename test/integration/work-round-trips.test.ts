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

  test('a rank started by a new algo is dispatched to its site without reading it back after the todo write', async () => {
    dispatched.length = 0;
    const commands = await commandsOf(() => registration.postAlgo({ uuid: 'ra', name: 'a', problem: 'rp' }, owner));
    expect(dispatched).toHaveLength(1);
    expect(dispatched[0]).toMatchObject({ kind: 'learnuplet', site: 'default' });
    // The todo write is the last command before the publish.
    expect(commands[dispatched[0]!.commandsBefore - 1]).toBe('update learnuplets');
  });

  test('claim, heartbeat and report of a prediction: 4 + 3 + 5 commands once the sites of its algo and problem are known', async () => {
    const [rank0] = await c.learnuplets.find({ algo: 'ra', rank: 0 }).toArray();
    // The first claim of this code reads the algo's and the problem's sites; no later claim does.
    let grant!: Awaited<ReturnType<WorkLeases['claim']>>;
    const firstClaim = await commandsOf(async () => (grant = await leases.claim('learnuplet', rank0!.uuid, 'w', node)));
    expect(firstClaim).toEqual(expect.arrayContaining(['find algos', 'find problems']));
    await leases.report('learnuplet', rank0!.uuid, { status: 'done', perf: 1, train_perf: {}, test_perf: {}, lease_token: grant.lease_token }, node);
    await registration.postData({ uuids: ['x0', 'x1'], problems: [] }, owner);
    const [first, second] = (await registration.requestPrediction({ data: ['x0', 'x1'], problem: 'rp' }, owner)).map((p) => p.uuid);
    expect((await commandsOf(() => leases.claim('preduplet', first!, 'w', node))).sort()).toEqual(
      ['find preduplets', 'find datas', 'insert leases', 'update preduplets'].sort(),
    );
    let token = '';
    const claim = await commandsOf(async () => (token = (await leases.claim('preduplet', second!, 'w', node)).lease_token));
    expect(claim.sort()).toEqual(['find preduplets', 'find datas', 'insert leases', 'update preduplets'].sort());
    expect((await commandsOf(() => leases.heartbeat('preduplet', second!, token, node))).sort()).toEqual(
      ['find leases', 'find settlements', 'update leases'].sort(),
    );
    // A first report finds its lease and wins the settlement fence: the settlement is not read, and
    // the answer is the document as the done write left it, not read again.
    const done = { status: 'done' as const, prediction_storage_uuid: `prediction-${second!}-1`, lease_token: token };
    let answer: Awaited<ReturnType<typeof leases.report>> | undefined;
    expect(await commandsOf(async () => void (answer = await leases.report('preduplet', second!, done, node)))).toEqual([
      'find preduplets',
      'find leases',
      'insert settlements',
      'update preduplets',
      'delete leases',
    ]);
    const stored = await c.preduplets.findOne({ _id: second! });
    expect(answer).toEqual(stored);
    // Its retry is answered from the settlement, unchanged.
    expect((await leases.report('preduplet', second!, done, node)).status).toBe('done');
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
