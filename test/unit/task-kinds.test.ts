import { TASK_KINDS, WORK_ERROR_CODES } from '../../shared/contracts/work-contract';
import { predictionBlobUuid } from '../../shared/contracts/blob-contract';
import { UpletError } from '../../shared/errors/uplet-error';
import { workTopology } from '../../shared/messaging/work-topology';
import { TASK_RUNNERS } from '../../compute-agent/task-runners';
import type { LearnupletDoc, PredupletDoc } from '../../orchestrator/domain/documents';
import type { Collections } from '../../orchestrator/persistence/collections';
import { reportBodies } from '../../orchestrator/routes/request-schemas';
import type { ChainKeeper } from '../../orchestrator/work/chain-keeper';
import { taskKindTable, type ReceivedDone } from '../../orchestrator/work/task-kinds';

/** A registered data item as the capability lookups see it. */
interface DataRow {
  _id: string;
  owner: string;
  problems: string[];
}

/**
 * Collections faked down to what the table reads (`datas.findOne` by `_id` and one other field);
 * every other collection is a sentinel the table only hands back.
 */
function fakeCollections(data: DataRow[]): Collections {
  const findOne = async (filter: { _id: string; problems?: string; owner?: string }) => {
    const row = data.find((d) => d._id === filter._id);
    if (!row) return null;
    if (filter.problems !== undefined && !row.problems.includes(filter.problems)) return null;
    if (filter.owner !== undefined && row.owner !== filter.owner) return null;
    return { _id: row._id };
  };
  // Code and start models sit at the default site here: their lookups find no site of their own.
  const none = async () => null;
  return {
    learnuplets: { name: 'learnuplets', findOne: none },
    preduplets: { name: 'preduplets' },
    datas: { findOne },
    algos: { findOne: none },
    problems: { findOne: none },
  } as unknown as Collections;
}

/** Records the chain keeper's calls; finishRank runs the write as the real one does. */
function fakeChains() {
  const calls: string[] = [];
  const chains = {
    finishRank: async (l: LearnupletDoc, attempt: number, write: () => Promise<unknown>) => {
      calls.push(`finishRank ${l._id} ${attempt}`);
      await write();
    },
    advanceStalledChains: async (_olderThan: Date, batch: number) => (calls.push(`advance ${batch}`), 3),
  } as unknown as ChainKeeper;
  return { chains, calls };
}

const learnuplet = (over: Partial<LearnupletDoc> = {}): LearnupletDoc => ({
  _id: 'l1',
  uuid: 'l1',
  status: 'pending',
  worker: 'node-1',
  attempt: 2,
  failure_reason: null,
  timestamp_todo: null,
  timestamp_claimed: null,
  timestamp_done: null,
  problem: 'p1',
  workflow: 'w1',
  algo: 'a1',
  rank: 0,
  train_data: ['d1', 'd2'],
  test_data: ['t1', 't2'],
  model_start: 'a1',
  model_end: 'm1',
  perf: null,
  train_perf: null,
  test_perf: null,
  timestamp_creation: new Date(0),
  ...over,
});
const preduplet = (over: Partial<PredupletDoc> = {}): PredupletDoc => ({
  _id: 'p1',
  uuid: 'p1',
  status: 'pending',
  worker: 'node-1',
  attempt: 2,
  failure_reason: null,
  timestamp_todo: null,
  timestamp_claimed: null,
  timestamp_done: null,
  problem: 'pb',
  workflow: 'w1',
  data: 'x1',
  model: 'm1',
  algo: 'a1',
  learnuplet: 'l1',
  owner: 'carol',
  prediction_storage_uuid: null,
  timestamp_request: new Date(0),
  ...over,
});
const done = (fields: Record<string, unknown>): ReceivedDone => ({ status: 'done', ...fields });
const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (err) {
    return err instanceof UpletError ? err.code : `not an UpletError: ${String(err)}`;
  }
  return undefined;
};

describe('every task kind has a row on each side', () => {
  const c = fakeCollections([]);
  const table = taskKindTable(c, fakeChains().chains);

  test.each(TASK_KINDS)('%s: orchestrator row, agent runner, report schema and queue', (kind) => {
    expect(table[kind].kind).toBe(kind);
    expect(typeof TASK_RUNNERS[kind].run).toBe('function');
    expect(reportBodies[kind]).toBeDefined();
    expect(reportBodies[kind].validate({ status: 'failed', reason: 'exit 1' }).error).toBeUndefined();
    expect(reportBodies[kind].validate({ status: 'done', surprise: 1 }).error).toBeDefined();
    expect(workTopology('uplet').queues[kind]).toBe(`uplet.${kind}`);
  });

  test('no table has a row for a kind that does not exist', () => {
    const kinds = [...TASK_KINDS].sort();
    expect(Object.keys(table).sort()).toEqual(kinds);
    expect(Object.keys(TASK_RUNNERS).sort()).toEqual(kinds);
    expect(Object.keys(reportBodies).sort()).toEqual(kinds);
    expect(Object.keys(workTopology('uplet').queues).sort()).toEqual(kinds);
  });

  test('each kind lives in its own collection', () => {
    expect(table.learnuplet.collection(c)).toBe(c.learnuplets);
    expect(table.preduplet.collection(c)).toBe(c.preduplets);
  });
});

describe('learnuplet row', () => {
  const c = fakeCollections([
    { _id: 't1', owner: 'dp', problems: ['p1'] },
    { _id: 't2', owner: 'dp', problems: ['other-problem'] },
  ]);

  test("acceptDone converts the seed's score lists to maps in the task's data order", () => {
    const { learnuplet: rules } = taskKindTable(c, fakeChains().chains);
    expect(rules.acceptDone(learnuplet(), 2, done({ perf: 0.5, train_perf: [0.1, 0.2], test_perf: [0.3, 0.4], lease_token: 'tok' }))).toEqual({
      status: 'done',
      perf: 0.5,
      lease_token: 'tok',
      train_perf: { d1: 0.1, d2: 0.2 },
      test_perf: { t1: 0.3, t2: 0.4 },
    });
  });

  test("acceptDone keeps maps of the task's own data as they are", () => {
    const { learnuplet: rules } = taskKindTable(c, fakeChains().chains);
    const report = done({ perf: 1, train_perf: { d2: 0.2 }, test_perf: { t1: 0.3 } });
    expect(rules.acceptDone(learnuplet(), 2, report)).toEqual(report);
  });

  test("acceptDone refuses scores of data that is not the task's own, on either side", () => {
    const { learnuplet: rules } = taskKindTable(c, fakeChains().chains);
    expect(codeOf(() => rules.acceptDone(learnuplet(), 2, done({ perf: 1, train_perf: { d1: 1, elsewhere: 2 }, test_perf: {} })))).toBe(
      WORK_ERROR_CODES.UNKNOWN_PERF_ITEM,
    );
    // A test item scored as train data is foreign too: the sides are not interchangeable.
    expect(codeOf(() => rules.acceptDone(learnuplet(), 2, done({ perf: 1, train_perf: { t1: 1 }, test_perf: {} })))).toBe(WORK_ERROR_CODES.UNKNOWN_PERF_ITEM);
    expect(codeOf(() => rules.acceptDone(learnuplet(), 2, done({ perf: 1, train_perf: {}, test_perf: { d1: 1 } })))).toBe(WORK_ERROR_CODES.UNKNOWN_PERF_ITEM);
  });

  test('acceptDone refuses a score list of the wrong length', () => {
    const { learnuplet: rules } = taskKindTable(c, fakeChains().chains);
    expect(codeOf(() => rules.acceptDone(learnuplet(), 2, done({ perf: 1, train_perf: [0.1], test_perf: [0.3, 0.4] })))).toBe('VALIDATION_FAILED');
  });

  test('doneFields writes the score and the per-item maps, and nulls what is absent', () => {
    const { learnuplet: rules } = taskKindTable(c, fakeChains().chains);
    expect(rules.doneFields(done({ perf: 0.7, train_perf: { d1: 1 }, test_perf: { t1: 2 } }))).toEqual({
      perf: 0.7,
      train_perf: { d1: 1 },
      test_perf: { t1: 2 },
    });
    expect(rules.doneFields(done({}))).toEqual({ perf: null, train_perf: null, test_perf: null });
  });

  test('finish goes through the chain keeper, which starts the next rank', async () => {
    const { chains, calls } = fakeChains();
    let writes = 0;
    await taskKindTable(c, chains).learnuplet.finish(learnuplet(), 2, async () => writes++);
    expect(calls).toEqual(['finishRank l1 2']);
    expect(writes).toBe(1);
  });

  test('blobs: all train data, test data only once registered to the problem, and the model it ends with', async () => {
    const { learnuplet: rules } = taskKindTable(c, fakeChains().chains);
    expect(await rules.blobs(learnuplet(), 2)).toMatchObject({ reads: ['data/d1', 'data/d2', 'data/t1'], writes: ['model/m1'], site: 'default' });
  });

  test('repairFollowUps re-drives stalled chains', async () => {
    const { chains, calls } = fakeChains();
    expect(await taskKindTable(c, chains).learnuplet.repairFollowUps(new Date(0), 50)).toBe(3);
    expect(calls).toEqual(['advance 50']);
  });
});

describe('preduplet row', () => {
  const c = fakeCollections([{ _id: 'x1', owner: 'carol', problems: [] }]);

  test('acceptDone takes the prediction written under this attempt', () => {
    const { preduplet: rules } = taskKindTable(c, fakeChains().chains);
    const report = done({ prediction_storage_uuid: predictionBlobUuid('p1', 2) });
    expect(rules.acceptDone(preduplet(), 2, report)).toEqual(report);
  });

  test('acceptDone refuses a prediction of another attempt or another task', () => {
    const { preduplet: rules } = taskKindTable(c, fakeChains().chains);
    expect(codeOf(() => rules.acceptDone(preduplet(), 2, done({ prediction_storage_uuid: predictionBlobUuid('p1', 1) })))).toBe(
      WORK_ERROR_CODES.NOT_TASK_OUTPUT,
    );
    expect(codeOf(() => rules.acceptDone(preduplet(), 2, done({ prediction_storage_uuid: predictionBlobUuid('p2', 2) })))).toBe(
      WORK_ERROR_CODES.NOT_TASK_OUTPUT,
    );
    expect(codeOf(() => rules.acceptDone(preduplet(), 2, done({ prediction_storage_uuid: 'any-uuid' })))).toBe(WORK_ERROR_CODES.NOT_TASK_OUTPUT);
  });

  test('doneFields writes the prediction uuid', () => {
    const { preduplet: rules } = taskKindTable(c, fakeChains().chains);
    expect(rules.doneFields(done({ prediction_storage_uuid: 'prediction-p1-2' }))).toEqual({ prediction_storage_uuid: 'prediction-p1-2' });
  });

  test('finish runs the write once and nothing follows it', async () => {
    const { chains, calls } = fakeChains();
    let writes = 0;
    await taskKindTable(c, chains).preduplet.finish(preduplet(), 2, async () => writes++);
    expect(writes).toBe(1);
    expect(calls).toEqual([]);
    expect(await taskKindTable(c, chains).preduplet.repairFollowUps(new Date(0), 50)).toBe(0);
  });

  test("blobs: the item only if the requester owns it, and the attempt's prediction", async () => {
    const { preduplet: rules } = taskKindTable(c, fakeChains().chains);
    expect(await rules.blobs(preduplet(), 3)).toMatchObject({ reads: ['data/x1'], writes: [`prediction/${predictionBlobUuid('p1', 3)}`] });
    expect(await rules.blobs(preduplet({ owner: 'mallory' }), 3)).toMatchObject({ reads: [], writes: [`prediction/${predictionBlobUuid('p1', 3)}`] });
  });
});

describe('synthesize row', () => {
  const c = fakeCollections([]);
  const task = {
    _id: 'mdl-1-synth-1',
    uuid: 'mdl-1-synth-1',
    model: 'mdl-1',
    owner: 'carol',
    site: 'default',
    n_rows: 500,
    seed: 42,
    ontology: { fields: [] },
  } as any;

  test('the reported CSV must be the data blob of this attempt; it reads nothing and writes that one blob', async () => {
    const { synthesize: rules } = taskKindTable(c, fakeChains().chains);
    expect(codeOf(() => rules.acceptDone(task, 2, done({ data_storage_uuid: 'mdl-1-synth-1-a1-data' })))).toBe(WORK_ERROR_CODES.NOT_TASK_OUTPUT);
    expect(codeOf(() => rules.acceptDone(task, 2, done({ data_storage_uuid: 'someone-elses-data' })))).toBe(WORK_ERROR_CODES.NOT_TASK_OUTPUT);
    expect(codeOf(() => rules.acceptDone(task, 2, done({ data_storage_uuid: 'mdl-1-synth-1-a2-data', result: {} })))).toBeUndefined();
    expect(await rules.blobs(task, 2)).toMatchObject({ reads: [], writes: ['data/mdl-1-synth-1-a2-data'], site: 'default' });
    expect(rules.doneFields(done({ data_storage_uuid: 'mdl-1-synth-1-a2-data', result: { rows: 500 } }))).toEqual({
      data_storage_uuid: 'mdl-1-synth-1-a2-data',
      result: { rows: 500 },
    });
  });
});

describe('teach row (distillation)', () => {
  const c = fakeCollections([]);
  const common = { job: 'job-1', storage_uuid: 'bc', owner: 'carol', site: 'default', dataset: 'ds-1' };
  const urlTask = { _id: 'job-1-teach', uuid: 'job-1-teach', ...common, teacher: { kind: 'url', url: 'http://t/predict', headers: { 'x-key': 's' } } } as any;
  const modelTask = { ...urlTask, teacher: { kind: 'model', model_id: 'job-0-model', model_storage_uuid: 'job-0-final-a1-model' } };

  test('the targets must be the blob of this attempt; a URL teacher reads the data only, a model teacher its model too', async () => {
    const { teach: rules } = taskKindTable(c, fakeChains().chains);
    expect(codeOf(() => rules.acceptDone(urlTask, 2, done({ targets_storage_uuid: 'job-1-teach-a1-targets', result: { n_rows: 3 } })))).toBe(
      WORK_ERROR_CODES.NOT_TASK_OUTPUT,
    );
    expect(codeOf(() => rules.acceptDone(urlTask, 2, done({ targets_storage_uuid: 'job-1-teach-a2-targets' })))).toBe('UNPROCESSABLE');
    expect(codeOf(() => rules.acceptDone(urlTask, 2, done({ targets_storage_uuid: 'job-1-teach-a2-targets', result: { n_rows: 3 } })))).toBeUndefined();
    expect(await rules.blobs(urlTask, 2)).toEqual({ reads: ['data/bc'], writes: ['model/job-1-teach-a2-targets'] });
    expect(await rules.blobs(modelTask, 1)).toEqual({ reads: ['data/bc', 'model/job-0-final-a1-model'], writes: ['model/job-1-teach-a1-targets'] });
  });

  test("a distilled job's trial and final task also read the targets", async () => {
    const table = taskKindTable(c, fakeChains().chains);
    const trial = { _id: 't', uuid: 't', ...common, teacher_targets: 'job-1-teach-a2-targets' } as any;
    expect((await table.trial.blobs(trial, 1)).reads).toEqual(['data/bc', 'model/job-1-teach-a2-targets']);
    expect((await table.final.blobs({ ...trial, ensemble: null }, 1)).reads).toEqual(['data/bc', 'model/job-1-teach-a2-targets']);
    expect((await table.trial.blobs({ ...trial, teacher_targets: null }, 1)).reads).toEqual(['data/bc']);
  });
});
