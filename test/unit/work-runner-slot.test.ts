import os from 'node:os';
import winston from 'winston';
import type { Learnuplet, OrchestratorClient } from '../../shared/http/orchestrator-client';
import type { StorageClient } from '../../shared/http/storage-client';
import { DEFAULT_LIMITS } from '../../compute-agent/sandbox/sandbox-limits';
import { runClaimedTask, type TaskSlot } from '../../compute-agent/work-runner';
import { ComputeSlots, WorkSlots } from '../../compute-agent/work-slots';

// The task's own work is not under test here: a runner that is done at once, and counts its runs.
const runs: string[] = [];
/** When set, the runner announces `computed`, then stores its outputs until this settles. */
let storing: Promise<void> | undefined;
jest.mock('../../compute-agent/task-runners', () => ({
  runnerOf: () => ({
    run: async (task: { uuid: string }, _attempt: number, ws: { reached(m: string): void }) => {
      runs.push(task.uuid);
      if (storing) {
        ws.reached('computed');
        await storing;
      }
      return { status: 'done', perf: 0.5 };
    },
  }),
}));

/** The orchestrator's port, faked: reports wait for `answerReport`; releases are recorded. */
function fakeOrchestrator() {
  const calls: string[] = [];
  let answerReport: () => void = () => undefined;
  const orchestrator = {
    heartbeat: async () => undefined,
    report: (_kind: string, uuid: string, _token: string, report: { status: string }) => {
      calls.push(`report ${uuid} ${report.status}`);
      return new Promise<void>((resolve) => (answerReport = resolve));
    },
    release: async (_kind: string, uuid: string) => void calls.push(`release ${uuid}`),
  } as unknown as OrchestratorClient;
  return { orchestrator, calls, answerReport: () => answerReport() };
}

function start(orchestrator: OrchestratorClient, uuid: string, slot: TaskSlot) {
  const storage = { withCapability: () => storage } as unknown as StorageClient;
  return runClaimedTask(
    {
      orchestrator,
      storage,
      caps: { bubblewrap: true, setpriv: true, prlimit: true, missing: [] },
      limits: DEFAULT_LIMITS,
      workDir: os.tmpdir(),
      heartbeatIntervalMs: 1_000,
      logger: winston.createLogger({ silent: true }),
    },
    'learnuplet',
    { uuid, attempt: 1 } as Learnuplet,
    { token: '1.abcdefghijklmnopqrstuvwx', attempt: 1, expires_at: '', capability: 'c', writes: [] },
    {},
    { slot },
  );
}

/** A task claimed ahead of its slot starts when the slot is granted, frees it before its report ends, and gives its lease back when no slot comes. */
describe('work runner: the compute slot', () => {
  beforeEach(() => {
    runs.splice(0);
    storing = undefined;
  });

  test('waits for its slot, frees it once the work is over while the report is still on its way', async () => {
    const { orchestrator, calls, answerReport } = fakeOrchestrator();
    const slots = new WorkSlots(1);
    expect(await slots.acquire(1_000)).toBe(true); // another task holds the only slot
    let freed = 0;
    const task = start(orchestrator, 'l1', { wait: (signal) => slots.acquire(5_000, signal), free: () => (freed++, slots.release()) });
    let done = false;
    void task.done.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(runs).toEqual([]); // claimed, not started
    slots.release();
    while (calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(runs).toEqual(['l1']);
    expect(calls).toEqual(['report l1 done']);
    expect(freed).toBe(1);
    expect(slots.busy).toBe(0);
    expect(done).toBe(false);
    answerReport();
    await task.done;
    expect(freed).toBe(1);
  });

  test('computed is announced while the outputs are still being stored; free follows once they are', async () => {
    const { orchestrator, calls, answerReport } = fakeOrchestrator();
    let stored!: () => void;
    storing = new Promise((resolve) => (stored = resolve));
    const events: string[] = [];
    const task = start(orchestrator, 'l5', { wait: async () => true, computed: () => void events.push('computed'), free: () => void events.push('free') });
    while (events.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(events).toEqual(['computed']);
    stored();
    while (calls.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(events).toEqual(['computed', 'free']);
    answerReport();
    await task.done;
    expect(events).toEqual(['computed', 'free']);
  });

  test('a slot that does not come free in time: the lease goes back, nothing runs, nothing is reported', async () => {
    const { orchestrator, calls } = fakeOrchestrator();
    let freed = 0;
    const task = start(orchestrator, 'l2', { wait: async () => false, free: () => void freed++ });
    await task.done;
    expect(runs).toEqual([]);
    expect(calls).toEqual(['release l2']);
    expect(freed).toBe(0);
  });

  test('abortIfWaiting gives a waiting task its lease back at once; a started task is not touched by it', async () => {
    const { orchestrator, calls, answerReport } = fakeOrchestrator();
    const slots = new WorkSlots(1);
    await slots.acquire(1_000);
    const waiting = start(orchestrator, 'l3', { wait: (signal) => slots.acquire(60_000, signal), free: () => slots.release() });
    await new Promise((r) => setTimeout(r, 20));
    waiting.abortIfWaiting();
    await waiting.done;
    expect(calls).toEqual(['release l3']);
    slots.release();

    const running = start(orchestrator, 'l4', { wait: (signal) => slots.acquire(1_000, signal), free: () => slots.release() });
    while (calls.length < 2) await new Promise((r) => setTimeout(r, 5));
    running.abortIfWaiting();
    answerReport();
    await running.done;
    expect(calls).toEqual(['release l3', 'report l4 done']);
    expect(runs).toEqual(['l4']);
  });
});

describe('work slots', () => {
  test('a waiter gives up when its signal aborts, and the slot is not counted for it', async () => {
    const slots = new WorkSlots(1);
    await slots.acquire(1_000);
    const controller = new AbortController();
    const waiting = slots.acquire(60_000, controller.signal);
    controller.abort();
    expect(await waiting).toBe(false);
    slots.release();
    expect(slots.busy).toBe(0);
    expect(await slots.acquire(10)).toBe(true);
  });

  test('a waiter gives up after its timeout', async () => {
    const slots = new WorkSlots(1);
    await slots.acquire(1_000);
    expect(await slots.acquire(20)).toBe(false);
    expect(slots.busy).toBe(1);
  });
});

describe('compute slots', () => {
  const signal = new AbortController().signal;

  test('one claim ahead per slot: the next one waits for room, and the claimed task starts when the slot frees', async () => {
    const slots = new ComputeSlots(1, 30, () => false);
    expect(await slots.reserveClaim()).toBe(true);
    const running = slots.slotForClaimed();
    expect(await running.wait(signal)).toBe(true); // its room is free again once it holds the slot
    expect(await slots.reserveClaim()).toBe(true); // claimed ahead while the first computes
    const ahead = slots.slotForClaimed();
    expect(await slots.reserveClaim()).toBe(false); // no room for a third within the wait
    const started = ahead.wait(signal);
    running.free();
    expect(await started).toBe(true);
    expect(slots.busy).toBe(1);
  });

  test('a task whose work is over hands its slot on while it stores, at most one per slot', async () => {
    const slots = new ComputeSlots(1, 30, () => false);
    await slots.reserveClaim();
    const a = slots.slotForClaimed();
    await a.wait(signal);
    a.computed!();
    expect(slots.busy).toBe(0); // a uploads; the slot is the next task's
    await slots.reserveClaim();
    const b = slots.slotForClaimed();
    expect(await b.wait(signal)).toBe(true);
    b.computed!(); // a still stores: b keeps its slot until its own outputs are stored
    expect(slots.busy).toBe(1);
    await slots.reserveClaim();
    const c = slots.slotForClaimed();
    expect(await c.wait(signal)).toBe(false);
    a.free();
    b.free();
    expect(slots.busy).toBe(0);
  });

  test('a claimed task gets no slot once the agent is stopping', async () => {
    let stopping = false;
    const slots = new ComputeSlots(1, 1_000, () => stopping);
    await slots.reserveClaim();
    const s = slots.slotForClaimed();
    stopping = true;
    expect(await s.wait(signal)).toBe(false);
    expect(slots.busy).toBe(0);
  });
});
