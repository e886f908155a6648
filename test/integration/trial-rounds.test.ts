import { BSON } from 'mongodb';
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
import { openTestDatabase, type TestDatabase } from '../harness/test-database';

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

  beforeAll(async () => {
    database = await openTestDatabase('rounds');
    c = collectionsOf(database.db);
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
});
