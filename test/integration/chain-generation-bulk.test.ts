import { MongoClient, type CommandStartedEvent } from 'mongodb';
import { silentLogger } from '../../shared/logging/logger';
import { collectionsOf, ensureIndexes, insertUnordered } from '../../orchestrator/persistence/collections';
import { ChainKeeper } from '../../orchestrator/work/chain-keeper';
import { Registration } from '../../orchestrator/work/registration';
import type { WorkDispatcher } from '../../orchestrator/work/work-dispatcher';
import { openTestDatabase, TEST_POOL_SIZE, type TestDatabase } from '../harness/test-database';

/** Posting 10,000 data items creates their learnuplets with bulk writes, not a round trip each. */
describe('chain generation at volume', () => {
  let database: TestDatabase;
  let client: MongoClient;
  const commands: CommandStartedEvent[] = [];

  beforeAll(async () => {
    database = await openTestDatabase('bulk');
    client = new MongoClient(database.url, { maxPoolSize: TEST_POOL_SIZE, monitorCommands: true });
    client.on('commandStarted', (e) => commands.push(e));
    await client.connect();
  });
  afterAll(async () => {
    await client.close();
    await database.cleanup();
  });

  test('10,000 data items, 2 algos: 2,000 learnuplets in a handful of inserts', async () => {
    const c = collectionsOf(client.db(database.dbName));
    await ensureIndexes(c);
    const dispatched: string[] = [];
    // The dispatcher is a port here: what this test checks is the database writes.
    const dispatcher: WorkDispatcher = { dispatch: async (_kind, uuids) => void dispatched.push(...uuids) };
    const chains = new ChainKeeper(c, dispatcher, silentLogger());
    const registration = new Registration(c, chains, dispatcher);
    const owner = { name: 'p', roles: ['organizer', 'data-provider', 'algo-author'] as const };
    await registration.postProblem({ uuid: 'big', workflow: 'wf', test_dataset: ['t0'], size_train_dataset: 10, metric_direction: 'higher' }, owner);
    await registration.postAlgo({ uuid: 'a0', name: 'a0', problem: 'big' }, owner);
    await registration.postAlgo({ uuid: 'a1', name: 'a1', problem: 'big' }, owner);

    commands.length = 0;
    const started = Date.now();
    const uuids = Array.from({ length: 10_000 }, (_, i) => `d${String(i).padStart(5, '0')}`);
    const { newLearnuplets } = await registration.postData({ uuids, problems: ['big'] }, owner);
    const seconds = (Date.now() - started) / 1000;

    expect(newLearnuplets).toBe(2_000);
    expect(await c.learnuplets.countDocuments({ problem: 'big' })).toBe(2_000);
    expect(await c.minibatches.countDocuments({ problem: 'big' })).toBe(1_000);
    const inserts = commands.filter((e) => e.commandName === 'insert');
    const learnupletInserts = inserts.filter((e) => e.command.insert === 'learnuplets');
    // The driver splits a large insertMany into batches of at most 100,000 documents / 48 MB.
    expect(learnupletInserts.length).toBeLessThanOrEqual(5);
    expect(inserts.length).toBeLessThanOrEqual(15);
    // Only rank 0 of each chain is runnable.
    expect(dispatched.sort()).toEqual((await c.learnuplets.find({ status: 'todo' }).toArray()).map((l) => l.uuid).sort());
    expect(dispatched).toHaveLength(2);
    const chain = await c.learnuplets.find({ algo: 'a0' }).sort({ rank: 1 }).toArray();
    expect(chain[999]!.train_data).toEqual(uuids.slice(9_990, 10_000));
    process.stderr.write(
      `10,000 data → 2,000 learnuplets in ${seconds.toFixed(2)} s with ${inserts.length} insert commands (${learnupletInserts.length} into learnuplets)\n`,
    );
  });

  test('an unordered insert sent in concurrent chunks names every document that existed, at its position in the whole list', async () => {
    const coll = client.db(database.dbName).collection<{ _id: string; n: number }>('chunked');
    // Already there: positions in the first, a middle and the last chunk of 4,000 (chunks of 1,000).
    const existing = [3, 1_500, 2_999, 3_998];
    await coll.insertMany(existing.map((i) => ({ _id: `c${i}`, n: -1 })));
    commands.length = 0;
    const docs = Array.from({ length: 4_000 }, (_, i) => ({ _id: `c${i}`, n: i }));
    expect((await insertUnordered(coll, docs)).sort((a, b) => a - b)).toEqual(existing);
    expect(commands.filter((e) => e.commandName === 'insert' && e.command.insert === 'chunked')).toHaveLength(4);
    expect(await coll.countDocuments({})).toBe(4_000);
    // The ones that existed kept their content: an insert fence never overwrites.
    expect(await coll.countDocuments({ n: -1 })).toBe(existing.length);
    // A small list stays one command.
    commands.length = 0;
    expect(
      await insertUnordered(coll, [
        { _id: 'small', n: 0 },
        { _id: 'c3', n: 0 },
      ]),
    ).toEqual([1]);
    expect(commands.filter((e) => e.commandName === 'insert')).toHaveLength(1);
  });
});
