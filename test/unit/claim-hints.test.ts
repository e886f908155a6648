import type { TaskDoc } from '../../orchestrator/domain/documents';
import { ClaimHints, matchesHint } from '../../orchestrator/work/claim-hints';
import type { WorkDispatcher } from '../../orchestrator/work/work-dispatcher';

const task = (fields: Record<string, unknown>) => ({ _id: 'u1', uuid: 'u1', status: 'todo', attempt: 0, ...fields }) as unknown as TaskDoc;

describe('matchesHint', () => {
  test('a task read as written matches, whatever its timestamps and key order', () => {
    const hint = task({ data: 'd', owner: 'p', test_data: ['t0', 't1'], timestamp_todo: new Date(1) });
    const read = task({ timestamp_todo: new Date(2), timestamp_claimed: null, test_data: ['t0', 't1'], owner: 'p', data: 'd' });
    expect(matchesHint(hint, read)).toBe(true);
  });

  test('an absent field and a null one are the same (the driver may store an undefined field as null)', () => {
    expect(matchesHint(task({ model_start: undefined }), task({ model_start: null }))).toBe(true);
    expect(matchesHint(task({}), task({ failure_reason: null }))).toBe(true);
  });

  test('any other difference, nested or not, makes the hint stale', () => {
    expect(matchesHint(task({ owner: 'p' }), task({ owner: 'q' }))).toBe(false);
    expect(matchesHint(task({ attempt: 0 }), task({ attempt: 1 }))).toBe(false);
    expect(matchesHint(task({ test_data: ['t0'] }), task({ test_data: ['t0', 't1'] }))).toBe(false);
    expect(matchesHint(task({ ask: { seed: 1 } }), task({ ask: { seed: 2 } }))).toBe(false);
    expect(matchesHint(task({}), task({ model_start: 'm' }))).toBe(false);
  });
});

describe('ClaimHints', () => {
  test('the recording dispatcher remembers what its caller wrote before it publishes, and a hint is taken once', async () => {
    const hints = new ClaimHints();
    const seen: Array<TaskDoc | undefined> = [];
    const inner: WorkDispatcher = { dispatch: async (kind, uuids) => void seen.push(hints.take(kind, uuids[0]!)) };
    const written = task({ data: 'd' });
    await hints.recording(inner).dispatch('preduplet', ['u1'], 'default', { written: [written] });
    expect(seen).toEqual([written]);
    expect(hints.take('preduplet', 'u1')).toBeUndefined();
  });

  test('a dispatch without documents (a republish) leaves no hint, and hints are per kind', async () => {
    const hints = new ClaimHints();
    const published: string[] = [];
    const dispatcher = hints.recording({ dispatch: async (_kind, uuids) => void published.push(...uuids) });
    await dispatcher.dispatch('learnuplet', ['u1'], undefined, { republish: true });
    expect(published).toEqual(['u1']);
    expect(hints.take('learnuplet', 'u1')).toBeUndefined();
    hints.remember('trial', [task({})]);
    expect(hints.take('learnuplet', 'u1')).toBeUndefined();
    expect(hints.take('trial', 'u1')).toBeDefined();
  });
});
