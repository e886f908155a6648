import { MongoClient } from 'mongodb';
import { silentLogger } from '../../shared/logging/logger';
import { OrchestratorMetrics } from '../../orchestrator/metrics';
import { collectionsOf, ensureIndexes, type Collections } from '../../orchestrator/persistence/collections';
import { ChainKeeper } from '../../orchestrator/work/chain-keeper';
import { ClaimHints } from '../../orchestrator/work/claim-hints';
import { Registration } from '../../orchestrator/work/registration';
import { learnupletUuid, modelEndUuid } from '../../orchestrator/domain/uplet-ids';
import { CodeSites } from '../../orchestrator/work/task-capabilities';
import { taskKindTable } from '../../orchestrator/work/task-kinds';
import type { WorkDispatcher } from '../../orchestrator/work/work-dispatcher';
import { WorkLeases } from '../../orchestrator/work/work-leases';
import { openTestDatabase, TEST_POOL_SIZE, type TestDatabase } from '../harness/test-database';

/**
 * A replica claims a task it has just written as todo from the document it wrote, without
 * reading it back (issue 22). The hint is stale when the task moved on through another replica
 * (claimed and settled there, released, canceled): the claim must then grant exactly what a
 * claim that reads the task grants, never an attempt a second time.
 */
describe('claims from the todo write (claim hints)', () => {
  let database: TestDatabase;
  let client: MongoClient;
  let c: Collections;
  let registration: Registration;
  let leases: WorkLeases;
  let metrics: OrchestratorMetrics;
  const commands: string[] = [];
  const owner = { name: 'p', roles: ['organizer', 'data-provider', 'algo-author'] } as never;
  const node = { name: 'node', roles: ['compute'] } as never;
  const NO_DISPATCH: WorkDispatcher = { dispatch: async () => undefined };
  const dispatched: string[] = [];

  const hintOutcomes = async () =>
    Object.fromEntries((await metrics.claimHints.get()).values.map((v) => [`${String(v.labels.kind)} ${String(v.labels.outcome)}`, v.value]));
  /** The commands `work` sends, as `<command> <collection>`. */
  const commandsOf = async (work: () => Promise<unknown>): Promise<string[]> => {
    commands.length = 0;
    await work();
    return [...commands];
  };
  /** A replica's leases as the service wires them: its claim table and its registration share one cache of code sites. */
  const wiredLeases = (chains: ChainKeeper, dispatcher: WorkDispatcher, codeSites: CodeSites, hints: ClaimHints, withMetrics?: OrchestratorMetrics) =>
    new WorkLeases(
      c,
      taskKindTable(c, chains, undefined, codeSites),
      dispatcher,
      { leaseMs: 60_000, maxAttempts: 3 },
      silentLogger(),
      withMetrics,
      undefined,
      hints,
    );
  /** A replica of its own on the same database, which wrote none of the tasks. */
  const otherReplica = () =>
    new WorkLeases(c, taskKindTable(c, new ChainKeeper(c, NO_DISPATCH, silentLogger())), NO_DISPATCH, { leaseMs: 60_000, maxAttempts: 3 }, silentLogger());
  const requestOne = async () => {
    const data = `hx-${commands.length}-${Date.now()}`;
    await registration.postData({ uuids: [data], problems: [] }, owner);
    const [p] = await registration.requestPrediction({ data: [data], problem: 'hp' }, owner);
    return { uuid: p!.uuid, data };
  };
  const doneOf = (uuid: string, token: string, attempt = 1) => ({
    status: 'done' as const,
    prediction_storage_uuid: `prediction-${uuid}-${attempt}`,
    lease_token: token,
  });

  beforeAll(async () => {
    database = await openTestDatabase('claimhints');
    client = new MongoClient(database.url, { maxPoolSize: TEST_POOL_SIZE, monitorCommands: true });
    await client.connect();
    client.on('commandStarted', (e) => void commands.push(`${e.commandName} ${String(e.command[e.commandName] as string)}`));
    c = collectionsOf(client.db(database.dbName));
    await ensureIndexes(c);
    const hints = new ClaimHints();
    const dispatcher = hints.recording({ dispatch: async (_kind, uuids) => void dispatched.push(...uuids) });
    const chains = new ChainKeeper(c, dispatcher, silentLogger());
    // As the service wires them: registration tells the claims' code sites what it inserts.
    const codeSites = new CodeSites(c);
    registration = new Registration(c, chains, dispatcher, undefined, codeSites);
    metrics = new OrchestratorMetrics();
    leases = wiredLeases(chains, dispatcher, codeSites, hints, metrics);
    await registration.postProblem({ uuid: 'hp', workflow: 'wf', test_dataset: ['ht'], size_train_dataset: 1, metric_direction: 'higher' }, owner);
    await registration.postData({ uuids: ['hd', 'ht'], problems: ['hp'] }, owner);
  });
  afterAll(async () => {
    await client.close();
    await database.cleanup();
  });

  test("a new algo's first rank is inserted todo, its capability read as it is published, and claimed with no read, granted what it may read", async () => {
    // Rank 0 waits for no other rank: it is written todo by its insert and dispatched, no update, no chain read.
    const posted = await commandsOf(() => registration.postAlgo({ uuid: 'ha', name: 'a', problem: 'hp' }, owner));
    expect(posted).toContain('insert learnuplets');
    expect(posted).not.toContain('update learnuplets');
    expect(posted).not.toContain('find learnuplets');
    const [rank0] = await c.learnuplets.find({ algo: 'ha', rank: 0 }).toArray();
    expect(rank0).toMatchObject({ status: 'todo', model_start: 'ha', attempt: 0 });
    expect(rank0!.timestamp_todo).toBeInstanceOf(Date);
    expect(dispatched).toEqual([rank0!.uuid]);
    // Its capability (is the test data registered?) is read as it is published, beside the message's way to an agent.
    for (let waited = 0; !commands.includes('find datas') && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    expect(commands).toContain('find datas');
    let grant!: Awaited<ReturnType<WorkLeases['claim']>>;
    const sent = await commandsOf(async () => (grant = await leases.claim('learnuplet', rank0!.uuid, 'w', node)));
    expect(sent).not.toContain('find learnuplets');
    expect(sent).not.toContain('find datas');
    // The algo's and the problem's sites were told by the registration that inserted them.
    expect(sent).not.toContain('find algos');
    expect(sent).not.toContain('find problems');
    expect(sent.sort()).toEqual(['insert leases', 'update learnuplets']);
    expect(grant.locations).toMatchObject({ 'algo/ha': 'default', 'workflow/wf': 'default' });
    expect([...(grant.lease.reads ?? [])].sort()).toEqual(['data/hd', 'data/ht']);
    // The task as answered is the task as stored.
    expect(grant.uplet).toEqual(await c.learnuplets.findOne({ _id: rank0!.uuid }));
    expect(await hintOutcomes()).toMatchObject({ 'learnuplet used': 1 });
    // A trained model, which the predictions below need.
    await leases.report('learnuplet', rank0!.uuid, { status: 'done', perf: 1, train_perf: {}, test_perf: {}, lease_token: grant.lease_token }, node);
  });

  test('a first rank left waiting (by an older version) is started when its algo is registered', async () => {
    const leftover = learnupletUuid('hp', 'hw', 0);
    const now = new Date();
    await c.learnuplets.insertOne({
      _id: leftover,
      uuid: leftover,
      problem: 'hp',
      algo: 'hw',
      workflow: 'wf',
      rank: 0,
      site: 'default',
      train_data: ['hd'],
      test_data: ['ht'],
      model_start: null,
      model_end: modelEndUuid(leftover),
      status: 'waiting',
      worker: null,
      attempt: 0,
      failure_reason: null,
      perf: null,
      train_perf: null,
      test_perf: null,
      timestamp_creation: now,
      timestamp_todo: null,
      timestamp_claimed: null,
      timestamp_done: null,
    });
    dispatched.length = 0;
    await registration.postAlgo({ uuid: 'hw', name: 'w', problem: 'hp' }, owner);
    expect(await c.learnuplets.findOne({ _id: leftover })).toMatchObject({ status: 'todo', model_start: 'hw' });
    expect(dispatched).toEqual([leftover]);
    expect(await c.learnuplets.countDocuments({ algo: 'hw' })).toBe(1);
  });

  test('a task claimed and settled through another replica (its lease deleted since) is not granted again', async () => {
    const { uuid } = await requestOne();
    const other = otherReplica();
    const first = await other.claim('preduplet', uuid, 'w-other', node);
    await other.report('preduplet', uuid, doneOf(uuid, first.lease_token), node);
    await other.flushSettledLeases();
    expect(await c.leases.countDocuments({ _id: `${uuid}/1` })).toBe(0);
    // This replica still holds the todo document it wrote: the fence is free again, the claimed write is not.
    await expect(leases.claim('preduplet', uuid, 'w', node)).rejects.toMatchObject({ code: 'NOT_CLAIMABLE' });
    expect(await c.leases.countDocuments({ _id: `${uuid}/1` })).toBe(0);
    expect(await c.preduplets.findOne({ _id: uuid })).toMatchObject({ status: 'done', attempt: 1, worker: 'w-other' });
    expect(await hintOutcomes()).toMatchObject({ 'preduplet stale': 1 });
  });

  test('a task released through another replica is claimed at its next attempt', async () => {
    const { uuid, data } = await requestOne();
    const other = otherReplica();
    const first = await other.claim('preduplet', uuid, 'w-other', node);
    await other.release('preduplet', uuid, first.lease_token, node);
    const grant = await leases.claim('preduplet', uuid, 'w', node);
    expect(grant.attempt).toBe(2);
    expect(grant.lease.reads).toEqual([`data/${data}`]);
    expect(await c.preduplets.findOne({ _id: uuid })).toMatchObject({ status: 'pending', attempt: 2, worker: 'w' });
    // The holder of attempt 1 can no longer report; the holder of attempt 2 can.
    await expect(other.report('preduplet', uuid, doneOf(uuid, first.lease_token), node)).rejects.toMatchObject({ code: 'LEASE_SETTLED' });
    await leases.report('preduplet', uuid, doneOf(uuid, grant.lease_token, 2), node);
    expect(await c.preduplets.findOne({ _id: uuid })).toMatchObject({ status: 'done', attempt: 2 });
  });

  test('a task canceled after its todo write is refused, and its cancellation stands', async () => {
    const { uuid } = await requestOne();
    expect(await otherReplica().cancel('preduplet', uuid, 'withdrawn', owner)).toBe(true);
    await expect(leases.claim('preduplet', uuid, 'w', node)).rejects.toMatchObject({ code: 'NOT_CLAIMABLE' });
    expect(await c.preduplets.findOne({ _id: uuid })).toMatchObject({ status: 'canceled', failure_reason: 'withdrawn' });
  });

  test('a second claim of the same todo write (a duplicate message) reads the task and loses to the first', async () => {
    const { uuid } = await requestOne();
    const [a, b] = await Promise.allSettled([leases.claim('preduplet', uuid, 'w1', node), leases.claim('preduplet', uuid, 'w2', node)]);
    expect([a.status, b.status].sort()).toEqual(['fulfilled', 'rejected']);
    const lost = (a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason) as { code?: string };
    expect(['ALREADY_CLAIMED', 'NOT_CLAIMABLE']).toContain(lost.code);
    expect(await c.leases.countDocuments({ uplet: uuid })).toBe(1);
  });

  test('a capability read ahead that went stale is read again by the claim, and reflects the registrations then', async () => {
    // A replica whose reads ahead are never fresh enough: its claims read the capability themselves.
    const staleHints = new ClaimHints(0);
    const dispatcher = staleHints.recording(NO_DISPATCH);
    const chains = new ChainKeeper(c, dispatcher, silentLogger());
    const codeSites = new CodeSites(c);
    const staleRegistration = new Registration(c, chains, dispatcher, undefined, codeSites);
    const staleLeases = wiredLeases(chains, dispatcher, codeSites, staleHints);
    commands.length = 0;
    await staleRegistration.postAlgo({ uuid: 'hs', name: 's', problem: 'hp' }, owner);
    for (let waited = 0; !commands.includes('find datas') && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    // The test data leaves the problem after the read ahead (as a registration rolled back would).
    await c.datas.updateOne({ _id: 'ht' }, { $set: { problems: [] } });
    try {
      const [rank0] = await c.learnuplets.find({ algo: 'hs', rank: 0 }).toArray();
      let grant!: Awaited<ReturnType<WorkLeases['claim']>>;
      const sent = await commandsOf(async () => (grant = await staleLeases.claim('learnuplet', rank0!.uuid, 'w', node)));
      expect(sent).toContain('find datas');
      expect(sent).not.toContain('find learnuplets'); // still claimed from the hint's document
      expect(grant.lease.reads).toEqual(['data/hd']);
    } finally {
      await c.datas.updateOne({ _id: 'ht' }, { $set: { problems: ['hp'] } });
    }
  });
});
