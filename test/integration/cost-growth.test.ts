import { MongoClient } from 'mongodb';
import { silentLogger } from '../../shared/logging/logger';
import { minuteOf } from '../../orchestrator/domain/lease-rules';
import { reapExpiredLeases } from '../../orchestrator/periodic/lease-reaper';
import { TodoSweeper } from '../../orchestrator/periodic/todo-sweeper';
import type { WorkDispatcher } from '../../orchestrator/work/work-dispatcher';
import { collectionsOf, ensureIndexes, type Collections, type LeaseDoc } from '../../orchestrator/persistence/collections';
import { ChainKeeper } from '../../orchestrator/work/chain-keeper';
import { Registration } from '../../orchestrator/work/registration';
import { taskKindTable } from '../../orchestrator/work/task-kinds';
import { WorkLeases } from '../../orchestrator/work/work-leases';
import type { LearnupletDoc } from '../../orchestrator/domain/documents';
import { openTestDatabase, TEST_POOL_SIZE, type TestDatabase } from '../harness/test-database';
import { QueryWatch, scanningQueries } from '../harness/query-shapes';

/** Collections that grow with use: a query on them must be one FerretDB can push down. */
const HOT = new Set([
  'datas',
  'learnuplets',
  'preduplets',
  'leases',
  'minibatches',
  'train_log',
  'memberships',
  'dispatches',
  'settlements',
  'algos',
  'problems',
]);
const BACKGROUND = 2_000;

/**
 * Issue 23: a POST /data, a sweep and a reap cost what is new, not what the
 * database holds. Measured without the clock: the query shapes the driver sends
 * (command monitoring) and the documents it reads, with 2,000 earlier data items
 * in the same problem, 200 waiting learnuplets, 2,000 done ones and 2,000 live leases around.
 */
describe('costs independent of collection size', () => {
  let database: TestDatabase;
  let client: MongoClient;
  let watch: QueryWatch;
  let c: Collections;
  let registration: Registration;
  let leases: WorkLeases;
  let sweeper: TodoSweeper;
  const owner = { name: 'p', roles: ['organizer', 'data-provider', 'algo-author'] } as never;
  let claimedLease: LeaseDoc;

  beforeAll(async () => {
    database = await openTestDatabase('costs');
    client = new MongoClient(database.url, { maxPoolSize: TEST_POOL_SIZE, monitorCommands: true });
    await client.connect();
    watch = new QueryWatch(client);
    c = collectionsOf(client.db(database.dbName));
    await ensureIndexes(c);
    // The dispatcher is a port here: what this test checks is the database reads.
    const dispatcher: WorkDispatcher = { dispatch: async () => undefined };
    const chains = new ChainKeeper(c, dispatcher, silentLogger());
    registration = new Registration(c, chains, dispatcher);
    leases = new WorkLeases(c, taskKindTable(c, chains), dispatcher, { leaseMs: 60_000, maxAttempts: 3 }, silentLogger());
    // republishAfterMs 0: every todo uplet is due, so the republish path runs in full.
    sweeper = new TodoSweeper(c, dispatcher, taskKindTable(c, chains), leases, { republishAfterMs: 0, batch: 1000 }, silentLogger());

    await registration.postProblem({ uuid: 'cp', workflow: 'wf', test_dataset: ['t0'], size_train_dataset: 10, metric_direction: 'higher' }, owner);
    await registration.postAlgo({ uuid: 'ca', name: 'a', problem: 'cp' }, owner);
    await registration.postAlgo({ uuid: 'cb', name: 'b', problem: 'cp' }, owner);
    await registration.postData({ uuids: Array.from({ length: BACKGROUND }, (_, i) => `bg${i}`), problems: ['cp'] }, owner);
    // Rank 0 of chain ca is claimed (pending, with a lease); rank 0 of cb stays todo.
    const [rank0] = await c.learnuplets.find({ algo: 'ca', rank: 0 }).toArray();
    await leases.claim('learnuplet', rank0!.uuid, 'w', { name: 'node', roles: ['compute'] } as never);
    claimedLease = (await c.leases.findOne({ uplet: rank0!.uuid }))!;

    // Done learnuplets of another problem, and live leases due in an hour.
    const now = new Date();
    const later = new Date(now.getTime() + 3_600_000);
    await c.learnuplets.insertMany(
      Array.from({ length: BACKGROUND }, (_, i) => ({
        ...(rank0 as LearnupletDoc),
        _id: `old${i}`,
        uuid: `old${i}`,
        problem: 'other',
        algo: 'x',
        rank: i,
        status: 'done' as const,
      })),
    );
    await c.leases.insertMany(
      Array.from({ length: BACKGROUND }, (_, i) => ({
        _id: `old${i}/1`,
        uplet: `old${i}`,
        kind: 'learnuplet' as const,
        attempt: 1,
        token: 't',
        worker: 'w',
        principal: 'node',
        claimed_at: now,
        expires_at: later,
        expiry_minute: minuteOf(later),
      })),
    );
  }, 120_000);

  afterAll(async () => {
    await client.close();
    await database.cleanup();
  });

  test('a single-item POST /data issues equality queries only and reads O(1) documents', async () => {
    const { queries, documentsRead, result } = await watch.record(() => registration.postData({ uuids: ['new-1'], problems: ['cp'] }, owner));
    expect(result.datas.map((d) => d.uuid)).toEqual(['new-1']);
    expect(scanningQueries(queries, HOT)).toEqual([]);
    // The problem, the log cursor and end, its algos: not the 2,000 data nor the 200 minibatches.
    expect(documentsRead).toBeLessThanOrEqual(20);
    process.stderr.write(`POST /data (1 item, ${BACKGROUND} before it): ${queries.length} queries, ${documentsRead} documents read\n`);
  });

  test('a re-post issues equality queries only', async () => {
    await registration.postProblem({ uuid: 'cq', workflow: 'wf', test_dataset: ['t0'], size_train_dataset: 10, metric_direction: 'higher' }, owner);
    const { queries, documentsRead } = await watch.record(() => registration.postData({ uuids: ['new-1', 'bg7'], problems: ['cp', 'cq'] }, owner));
    expect(scanningQueries(queries, HOT)).toEqual([]);
    expect(documentsRead).toBeLessThanOrEqual(20);
  });

  test('a sweep issues equality-led queries only and reads what is due', async () => {
    const { queries, documentsRead, result } = await watch.record(() => sweeper.sweep());
    expect(result.republished).toBe(1);
    expect(scanningQueries(queries, HOT)).toEqual([]);
    // One todo, one pending and their lookups: not the 198 waiting ranks nor the 2,000 done ones.
    expect(documentsRead).toBeLessThanOrEqual(20);
    process.stderr.write(`sweep: ${queries.length} queries, ${documentsRead} documents read\n`);
  });

  test('a reap issues equality queries only, reads only due minutes, and still reaps', async () => {
    const past = new Date(Date.now() - 90_000);
    await c.leases.updateOne({ _id: claimedLease._id }, { $set: { expires_at: past, expiry_minute: minuteOf(past) } });
    const { queries, documentsRead, result } = await watch.record(() => reapExpiredLeases(c, leases));
    expect(result).toBe(1);
    expect(scanningQueries(queries, HOT)).toEqual([]);
    // The expired lease and its uplet: not the 2,000 live leases.
    expect(documentsRead).toBeLessThanOrEqual(20);
    expect(await c.learnuplets.findOne({ _id: claimedLease.uplet })).toMatchObject({ status: 'todo', attempt: 1 });
    // A second cycle finds nothing and reads (almost) nothing.
    const again = await watch.record(() => reapExpiredLeases(c, leases));
    expect(again.result).toBe(0);
    expect(again.documentsRead).toBeLessThanOrEqual(2);
    process.stderr.write(`reap: ${queries.length} queries, ${documentsRead} documents read\n`);
  });
});
