import { BSON, MongoClient, type CommandStartedEvent, type CommandSucceededEvent } from 'mongodb';
import { engineOutputUuid } from '../../shared/contracts/blob-contract';
import type { HistoryEntry } from '../../shared/contracts/training-contract';
import { silentLogger } from '../../shared/logging/logger';
import { collectionsOf, ensureIndexes, type Collections } from '../../orchestrator/persistence/collections';
import type { DatasetDoc, TrialDoc } from '../../orchestrator/training/engine-documents';
import { ROUND_SIZE } from '../../orchestrator/training/study-plan';
import { TrainingEngine, type JobRequest } from '../../orchestrator/training/training-engine';
import { ChainKeeper } from '../../orchestrator/work/chain-keeper';
import { taskKindTable } from '../../orchestrator/work/task-kinds';
import type { WorkDispatcher } from '../../orchestrator/work/work-dispatcher';
import { WorkLeases } from '../../orchestrator/work/work-leases';
import { openTestDatabase, TEST_POOL_SIZE, type TestDatabase } from '../harness/test-database';

const ROUNDS = 4;
const owner = { name: 'carol', roles: ['data-provider'] } as never;
const agent = { name: 'node', roles: ['compute'] } as never;
const requestOf = (over: Pick<JobRequest, 'strategy' | 'n_trials' | 'random_state'>): JobRequest => ({
  dataset_id: 'ds-rounds',
  label_column: 'y',
  task_kind: 'classification',
  filters: [],
  ignore_fields: [],
  families: ['decision_tree'],
  metrics: ['accuracy'],
  evaluation: { kind: 'holdout', train_fraction: 0.8 },
  class_weight: null,
  grid_size: null,
  ensemble: false,
  budget_seconds: null,
  ...over,
});

/**
 * Issue 22: a trial document holds its ask without its round's propose history (stored once in
 * `trial_rounds`), so its size does not grow with the study; the agent still receives the whole
 * history at the claim. Driven through the engine and the leases on FerretDB; the agent's reports
 * are written here (what is checked is the stored documents and the work items, not a fit).
 */
describe("a trial's stored size stays flat as its study grows", () => {
  let database: TestDatabase;
  let c: Collections;
  let engine: TrainingEngine;
  let leases: WorkLeases;
  let client: MongoClient;
  const started: CommandStartedEvent[] = [];
  const succeeded: CommandSucceededEvent[] = [];

  beforeAll(async () => {
    database = await openTestDatabase('rounds');
    // The driver's command monitoring counts what a trial's end reads (the last test).
    client = new MongoClient(database.url, { maxPoolSize: TEST_POOL_SIZE, monitorCommands: true });
    await client.connect();
    client.on('commandStarted', (e) => void started.push(e));
    client.on('commandSucceeded', (e) => void succeeded.push(e));
    c = collectionsOf(client.db(database.dbName));
    await ensureIndexes(c);
    // The dispatcher is a port here: the test claims the trials it finds in the database.
    const dispatcher: WorkDispatcher = { dispatch: async () => undefined };
    engine = new TrainingEngine(c, dispatcher, silentLogger());
    const chains = new ChainKeeper(c, dispatcher, silentLogger());
    leases = new WorkLeases(c, taskKindTable(c, chains, engine), dispatcher, { leaseMs: 60_000, maxAttempts: 3 }, silentLogger());
    engine.useLeases(leases);
    const dataset: DatasetDoc = {
      _id: 'ds-rounds',
      dataset_id: 'ds-rounds',
      name: 'rounds',
      storage_uuid: 'blob-rounds',
      format: 'csv',
      site: 'default',
      owner: 'carol',
      status: 'ready',
      failure_reason: null,
      profile: {
        row_count: 200,
        delimiter: ',',
        columns: [
          { name: 'x', type: 'numeric', missing: 0, distinct: 200, min: 0, max: 1, mean: 0.5, std: 0.3 },
          {
            name: 'y',
            type: 'category',
            missing: 0,
            distinct: 2,
            top_values: [
              { value: 'a', count: 100 },
              { value: 'b', count: 100 },
            ],
          },
        ],
      },
      profile_task: 'ds-rounds-profile',
      timestamp_upload: new Date(),
      timestamp_ready: new Date(),
    };
    await c.datasets.insertOne(dataset);
  });
  afterAll(async () => {
    await client?.close();
    await database?.cleanup();
  });

  /** The stored BSON size of each trial of the job's newest round, before it is claimed. */
  const storedSizes = async (jobId: string) => {
    const todo = await c.trials.find({ job: jobId, status: 'todo' }).toArray();
    return todo.sort((a, b) => a.index - b.index).map((t) => ({ trial: t, bytes: BSON.calculateObjectSize(t) }));
  };

  test('the last round’s trial document is the size of the first’s; its work item carries the earlier rounds’ history', async () => {
    const job = await engine.submit(requestOf({ strategy: 'optuna', n_trials: ROUNDS * ROUND_SIZE, random_state: 7 }), owner);
    const reported: HistoryEntry[] = [];
    const sizes: number[][] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const stored = await storedSizes(job.job_id);
      expect(stored.map((s) => s.trial.index)).toEqual(Array.from({ length: ROUND_SIZE }, (_, i) => round * ROUND_SIZE + i));
      sizes.push(stored.map((s) => s.bytes));
      for (const { trial } of stored) {
        expect((trial.ask as Record<string, unknown>).history).toBeUndefined();
        const grant = await leases.claim('trial', trial.uuid, 'w', agent);
        const item = grant.uplet as unknown as TrialDoc;
        // The agent's ask is the wire's: the history of every earlier round, in trial-index order; no reference.
        expect(item.ask).toEqual({
          strategy: 'optuna',
          history: reported,
          round_size: ROUND_SIZE,
          seed: expect.any(Number),
          index: trial.index % ROUND_SIZE,
          direction: 'maximize',
        });
        expect(Object.keys(item.ask!)).toEqual(['strategy', 'history', 'round_size', 'seed', 'index', 'direction']);
        expect(item).not.toHaveProperty('ask_round');
      }
      for (const { trial } of stored) {
        const params = { max_depth: 2 + trial.index, min_samples_leaf: 1 };
        const accuracy = 0.5 + trial.index / 100;
        await leases.report(
          'trial',
          trial.uuid,
          {
            status: 'done',
            lease_token: (await c.leases.findOne({ uplet: trial.uuid }))!.token,
            result: { params, metrics: { accuracy: { mean: accuracy, std: 0 } } },
            model_storage_uuid: engineOutputUuid(trial.uuid, 1, 'model'),
            oof_storage_uuid: engineOutputUuid(trial.uuid, 1, 'oof'),
          } as never,
          agent,
        );
        reported.push({ params, value: accuracy });
      }
    }
    // Before, the last round's trials held 12 history entries more than the first's (over 1 kB here); now a
    // longer trial index ("-12" against "-0") is the only difference.
    for (let i = 0; i < ROUND_SIZE; i++) expect(Math.abs(sizes[ROUNDS - 1]![i]! - sizes[0]![i]!)).toBeLessThanOrEqual(8);
    expect(await c.trialRounds.countDocuments({ job: job.job_id })).toBe(ROUNDS);
    const last = await c.trialRounds.findOne({ job: job.job_id, row: 0, round: ROUNDS - 1 });
    expect(last?.history).toHaveLength((ROUNDS - 1) * ROUND_SIZE);
  }, 120_000);

  test('a crash between a round and its trials is repaired by the next advance, from the same round', async () => {
    const job = await engine.submit(requestOf({ strategy: 'random', n_trials: ROUND_SIZE, random_state: 8 }), owner);
    const before = await c.trials.find({ job: job.job_id }).toArray();
    const round = await c.trialRounds.findOne({ job: job.job_id });
    expect(before).toHaveLength(ROUND_SIZE);
    // The orchestrator stopped after inserting the round, before its trials.
    await c.trials.deleteMany({ job: job.job_id });
    await engine.advance(job.job_id);
    const after = await c.trials.find({ job: job.job_id }).toArray();
    const strip = (t: TrialDoc) => ({ ...t, timestamp_todo: null, timestamp_creation: null });
    expect(after.map(strip).sort((a, b) => a.index - b.index)).toEqual(before.map(strip).sort((a, b) => a.index - b.index));
    expect(after.every((t) => t.ask_round === round!._id)).toBe(true);
    expect(await c.trialRounds.find({ job: job.job_id }).toArray()).toEqual([round]);
  }, 60_000);

  /** Claims and reports one trial done (accuracy from its index); returns its grant, the commands its report sent and the trials those read. */
  const finishTrial = async (trial: TrialDoc) => {
    const grant = await leases.claim('trial', trial.uuid, 'w', agent);
    const report = {
      status: 'done',
      lease_token: grant.lease_token,
      result: { params: { max_depth: 2 + (trial.index % 5), min_samples_leaf: 1 }, metrics: { accuracy: { mean: 0.5 + trial.index / 1000, std: 0 } } },
      model_storage_uuid: engineOutputUuid(trial.uuid, 1, 'model'),
      oof_storage_uuid: engineOutputUuid(trial.uuid, 1, 'oof'),
    };
    await leases.flushSettledLeases();
    started.length = 0;
    succeeded.length = 0;
    await leases.report('trial', trial.uuid, report as never, agent);
    // Settled leases are deleted in batches off the report's path, whenever a batch's timer fires: not counted.
    const commands = started
      .map((e) => `${e.commandName} ${String((e.command as Record<string, unknown>)[e.commandName])}`)
      .filter((command) => command !== 'delete leases');
    // The lease's own reads of the reported trial (by `_id`) aside: what the job's advance reads.
    const trialFinds = started.filter(
      (e) => e.commandName === 'find' && (e.command as { find: string }).find === 'trials' && 'job' in (e.command as { filter: object }).filter,
    );
    const trialsRead = succeeded
      .filter((e) => trialFinds.some((f) => f.requestId === e.requestId))
      .reduce((n, e) => n + ((e.reply as { cursor?: { firstBatch?: unknown[] } }).cursor?.firstBatch?.length ?? 0), 0);
    return { grant, commands, trialsRead, filters: trialFinds.map((e) => (e.command as { filter: Record<string, unknown> }).filter) };
  };

  test("a trial's end reads its round, and its job only when the round is over: the same commands and trials read at an early and a late round", async () => {
    const rounds = 6;
    const request = { ...requestOf({ strategy: 'optuna', n_trials: rounds * ROUND_SIZE, random_state: 9 }), families: ['decision_tree', 'linear'] };
    const job = await engine.submit(request, owner);
    type Cost = Awaited<ReturnType<typeof finishTrial>>;
    const costs: Array<{ round: number; first: Cost; last: Cost }> = [];
    for (let round = 0; round < rounds; round++) {
      const todo = (await c.trials.find({ job: job.job_id, status: 'todo' }).toArray()).sort((a, b) => a.row - b.row || a.index - b.index);
      expect(todo.map((t) => `${t.row}-${t.index}`)).toEqual(
        [0, 1].flatMap((r) => Array.from({ length: ROUND_SIZE }, (_, i) => `${r}-${round * ROUND_SIZE + i}`)),
      );
      // Row 0: the round's first trial to end (its round still running), then the rest; its last launches the row's next round.
      const first = await finishTrial(todo[0]!);
      for (const t of todo.slice(1, ROUND_SIZE - 1)) await finishTrial(t);
      const last = await finishTrial(todo[ROUND_SIZE - 1]!);
      costs.push({ round, first, last });
      for (const t of todo.slice(ROUND_SIZE)) await finishTrial(t);
    }
    const early = costs[1]!;
    const late = costs[rounds - 2]!;
    // Before, each end read every trial of the job (found by `{job}` alone): 8 at round 1, 40 at round 4.
    expect(late.first.commands).toEqual(early.first.commands);
    expect(late.last.commands).toEqual(early.last.commands);
    expect(late.first.trialsRead).toBe(early.first.trialsRead);
    expect(late.last.trialsRead).toBe(early.last.trialsRead);
    expect(early.first.trialsRead).toBe(ROUND_SIZE);
    // Its round, then the next round (none yet) before creating it.
    expect(early.last.trialsRead).toBe(ROUND_SIZE);
    for (const cost of [early.first, early.last, late.first, late.last])
      for (const filter of cost.filters) expect(filter).toEqual({ job: job.job_id, ask_round: expect.stringMatching(/-round-\d+$/) });
    // A round still open after an end creates nothing, so its job (seen running before) is not read;
    // the end that finishes the round reads it (its status decides whether the next round starts).
    for (const cost of [early.first, late.first]) expect(cost.commands.filter((c) => c === 'find jobs')).toEqual([]);
    for (const cost of [early.last, late.last]) expect(cost.commands).toContain('find jobs');
    // The histories built round by round are the ones rebuilt from every trial; the job ends with its final task.
    for (const row of [0, 1])
      for (let round = 1; round < rounds; round++) {
        const stored = await c.trialRounds.findOne({ _id: `${job.job_id}-${row}-round-${round}` });
        const trials = (await c.trials.find({ job: job.job_id, row }).toArray()).filter((t) => t.index < round * ROUND_SIZE).sort((a, b) => a.index - b.index);
        expect(stored?.history).toEqual(
          trials.map((t) => ({
            params: (t.result as { params: unknown }).params,
            value: (t.result as { metrics: { accuracy: { mean: number } } }).metrics.accuracy.mean,
          })),
        );
      }
    expect(await c.finalTasks.findOne({ _id: `${job.job_id}-final` })).toMatchObject({ status: 'todo' });
  }, 180_000);

  test('a job canceled elsewhere while this orchestrator remembers it running: the round it was in starts no other, and its end withdraws the rest', async () => {
    const request = { ...requestOf({ strategy: 'optuna', n_trials: 2 * ROUND_SIZE, random_state: 12 }), families: ['decision_tree', 'linear'] };
    const job = await engine.submit(request, owner);
    const round0 = (await c.trials.find({ job: job.job_id }).toArray()).sort((a, b) => a.row - b.row || a.index - b.index);
    const [row0, row1] = [round0.filter((t) => t.row === 0), round0.filter((t) => t.row === 1)];
    expect(row0.map((t) => t.index)).toEqual([0, 1, 2, 3]);
    await finishTrial(row0[0]!); // this engine has now seen the job running
    // Another replica cancels it and dies before withdrawing its trials (an engine without leases withdraws nothing).
    await new TrainingEngine(c, { dispatch: async () => undefined }, silentLogger()).cancel(job.job_id, owner);
    expect(await c.trials.countDocuments({ job: job.job_id, status: 'todo' })).toBe(2 * ROUND_SIZE - 1);
    // Row 0's other trials end here: the open round's ends create nothing; the one that closes it reads the canceled job and withdraws row 1's.
    for (const t of row0.slice(1, -1)) await finishTrial(t);
    expect(await c.trials.countDocuments({ job: job.job_id, row: 1, status: 'todo' })).toBe(ROUND_SIZE);
    await finishTrial(row0[ROUND_SIZE - 1]!);
    expect(await c.trials.countDocuments({ job: job.job_id })).toBe(2 * ROUND_SIZE);
    expect(await c.trialRounds.findOne({ _id: `${job.job_id}-0-round-1` })).toBeNull();
    expect((await c.trials.find({ _id: { $in: row1.map((t) => t._id) } }).toArray()).map((t) => t.status)).toEqual(Array(ROUND_SIZE).fill('canceled'));
    expect((await c.jobs.findOne({ _id: job.job_id }))?.status).toBe('canceled');
  }, 60_000);

  test("the sweeper's repair leaves a job whose trials are running unread, and re-drives one whose round's follow-up was lost", async () => {
    const job = await engine.submit(requestOf({ strategy: 'optuna', n_trials: 2 * ROUND_SIZE, random_state: 10 }), owner);
    const later = new Date(Date.now() + 60_000);
    started.length = 0;
    await engine.repair(later, 1000);
    const readsWhole = (e: CommandStartedEvent) => {
      const cmd = e.command as { find?: string; filter?: Record<string, unknown> };
      return cmd.find === 'trials' && cmd.filter?.job === job.job_id && Object.keys(cmd.filter).length === 1;
    };
    // Round 0's trials are all to run: their ends will advance the job.
    expect(started.filter(readsWhole)).toEqual([]);
    expect(await c.trials.countDocuments({ job: job.job_id })).toBe(ROUND_SIZE);
    // The trials' results were written, and the orchestrator stopped before their follow-up (advance).
    for (const t of await c.trials.find({ job: job.job_id }).toArray())
      await c.trials.updateOne(
        { _id: t._id },
        {
          $set: {
            status: 'done',
            attempt: 1,
            timestamp_done: new Date(),
            result: { params: { max_depth: 2 + t.index, min_samples_leaf: 1 }, metrics: { accuracy: { mean: 0.6, std: 0 } } },
          },
        },
      );
    await engine.repair(later, 1000);
    const next = await c.trials.find({ job: job.job_id, status: 'todo' }).toArray();
    expect(next.map((t) => t.index).sort((a, b) => a - b)).toEqual([4, 5, 6, 7]);
    expect((await c.trialRounds.findOne({ _id: `${job.job_id}-0-round-1` }))?.history).toHaveLength(ROUND_SIZE);
  }, 60_000);

  test("a job's view reads every trial once, then only its rows' open rounds, and shows what a whole read shows", async () => {
    const rounds = 5;
    const request = { ...requestOf({ strategy: 'optuna', n_trials: rounds * ROUND_SIZE, random_state: 11 }), families: ['decision_tree', 'linear'] };
    const job = await engine.submit(request, owner);
    const dispatcher: WorkDispatcher = { dispatch: async () => undefined };
    // A view by an engine that has kept nothing: every trial read, as before.
    const wholeView = async () => new TrainingEngine(c, dispatcher, silentLogger()).get(job.job_id, owner);
    const timeless = (view: Awaited<ReturnType<TrainingEngine['get']>>) => ({
      ...view,
      progress: { ...view.progress, elapsed_seconds: null, estimate_seconds: null },
    });
    /** The view by the long-lived engine, and how many trial documents it read. */
    const view = async () => {
      started.length = 0;
      succeeded.length = 0;
      const v = await engine.get(job.job_id, owner);
      const finds = started.filter((e) => e.commandName === 'find' && (e.command as { find: string }).find === 'trials');
      const read = succeeded
        .filter((e) => finds.some((f) => f.requestId === e.requestId))
        .reduce((n, e) => n + ((e.reply as { cursor?: { firstBatch?: unknown[] } }).cursor?.firstBatch?.length ?? 0), 0);
      return { v, read };
    };
    expect((await view()).read).toBe(2 * ROUND_SIZE); // the first view: the whole job (round 0 of both rows)
    const reads: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const todo = (await c.trials.find({ job: job.job_id, status: 'todo' }).toArray()).sort((a, b) => a.row - b.row || a.index - b.index);
      expect(todo).toHaveLength(2 * ROUND_SIZE);
      // Trial by trial (the views between them see a round partly finished, then the next round created).
      for (const t of todo) {
        await finishTrial(t);
        const { v, read } = await view();
        reads.push(read);
        expect(timeless(v)).toEqual(timeless(await wholeView()));
      }
    }
    const done = await view();
    expect(done.v.trials).toHaveLength(2 * rounds * ROUND_SIZE);
    expect(done.v.progress.trials_done).toBe(2 * rounds * ROUND_SIZE);
    expect(timeless(done.v)).toEqual(timeless(await wholeView()));
    // At most the open round of each row and the one after it: never the job's earlier rounds.
    expect(Math.max(...reads)).toBeLessThanOrEqual(2 * 2 * ROUND_SIZE);
    expect(done.read).toBe(0);
    // A canceled job's withdrawn trials are finished too: the kept view follows the cancellation.
    const other = await engine.submit({ ...request, random_state: 12 }, owner);
    await engine.get(other.job_id, owner);
    await finishTrial((await c.trials.findOne({ job: other.job_id, row: 0, index: 0 }))!);
    await engine.get(other.job_id, owner);
    await engine.cancel(other.job_id, owner);
    const canceled = await engine.get(other.job_id, owner);
    expect(canceled.trials.map((t) => t.status).sort()).toEqual(['canceled', 'canceled', 'canceled', 'canceled', 'canceled', 'canceled', 'canceled', 'done']);
    expect(timeless(canceled)).toEqual(timeless(await new TrainingEngine(c, dispatcher, silentLogger()).get(other.job_id, owner)));
  }, 240_000);

  test("a job's profile is kept apart from the job; its work items and final task still carry it, and a job stored with it inside still runs", async () => {
    const profile = (await c.datasets.findOne({ _id: 'ds-rounds' }))!.profile;
    const apart = await engine.submit(requestOf({ strategy: 'random', n_trials: ROUND_SIZE, random_state: 13 }), owner);
    // A job made before the profile moved out: the profile inside its document, none apart.
    const inside = await engine.submit(requestOf({ strategy: 'random', n_trials: ROUND_SIZE, random_state: 14 }), owner);
    await c.jobs.updateOne({ _id: inside.job_id }, { $set: { profile: profile! } });
    await c.jobProfiles.deleteOne({ _id: inside.job_id });

    expect(await c.jobs.findOne({ _id: apart.job_id })).not.toHaveProperty('profile');
    expect((await c.jobProfiles.findOne({ _id: apart.job_id }))?.profile).toEqual(profile);
    expect((await engine.listJobs(owner, 10, 0)).map((j) => j.job_id)).toEqual(expect.arrayContaining([apart.job_id, inside.job_id]));
    // The job's view shows it as submitted, either way.
    for (const job of [apart, inside]) expect((await engine.get(job.job_id, owner)).job.profile).toEqual(profile);
    for (const job of [apart, inside]) {
      const trials = await c.trials.find({ job: job.job_id }).toArray();
      for (const trial of trials) {
        expect(trial).not.toHaveProperty('profile');
        const { grant } = await finishTrial(trial);
        expect((grant.uplet as unknown as TrialDoc).profile).toEqual(profile);
      }
      // Every trial ended: the final task is made from the job with its profile joined.
      expect((await c.finalTasks.findOne({ job: job.job_id }))?.profile).toEqual(profile);
    }
  }, 120_000);
});
