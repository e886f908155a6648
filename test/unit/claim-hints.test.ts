import type { TaskDoc } from '../../orchestrator/domain/documents';
import { ClaimHints, PREPARED_PER_DISPATCH } from '../../orchestrator/work/claim-hints';
import type { WorkDispatcher } from '../../orchestrator/work/work-dispatcher';

const task = (fields: Record<string, unknown>) => ({ _id: 'u1', uuid: 'u1', status: 'todo', attempt: 0, ...fields }) as unknown as TaskDoc;

describe('ClaimHints', () => {
  test('the recording dispatcher remembers what its caller wrote before it publishes, and a hint is taken once', async () => {
    const hints = new ClaimHints();
    const seen: Array<TaskDoc | undefined> = [];
    const inner: WorkDispatcher = { dispatch: async (kind, uuids) => void seen.push(hints.take(kind, uuids[0]!)?.task) };
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

  test('a dispatch without the documents (a release, a republish) drops what was remembered of those tasks', async () => {
    const hints = new ClaimHints();
    const dispatcher = hints.recording({ dispatch: async () => undefined });
    await dispatcher.dispatch('trial', ['u1'], 'default', { written: [task({})] });
    await dispatcher.dispatch('trial', ['u1'], 'default');
    expect(hints.take('trial', 'u1')).toBeUndefined();
  });

  test('with a preparer, the capability is read at the todo write, and serves a claim only while fresh', async () => {
    let now = 1_000_000;
    const clock = jest.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const hints = new ClaimHints(1_000);
      const reads: string[] = [];
      hints.prepareWith(async (kind, t) => {
        reads.push(`${kind}/${t._id}/${t.attempt + 1}`);
        return { reads: ['data/d'], writes: [] };
      });
      const dispatcher = hints.recording({ dispatch: async () => undefined });
      await dispatcher.dispatch('preduplet', ['u1'], 'default', { written: [task({})] });
      await dispatcher.dispatch('preduplet', ['u2'], 'default', { written: [task({ _id: 'u2', attempt: 1 })] });
      // Read as each task was published, for the attempt its claim will make.
      expect(reads).toEqual(['preduplet/u1/1', 'preduplet/u2/2']);
      now += 1_000;
      expect(await hints.preparedBlobs(hints.take('preduplet', 'u1')!)).toEqual({ reads: ['data/d'], writes: [] });
      now += 1;
      expect(await hints.preparedBlobs(hints.take('preduplet', 'u2')!)).toBeUndefined();
    } finally {
      clock.mockRestore();
    }
  });

  test('a large dispatch reads ahead the first few only, and a read past its freshness is not kept', async () => {
    const hints = new ClaimHints(20);
    let reads = 0;
    hints.prepareWith(async () => {
      reads++;
      return { reads: [], writes: [] };
    });
    const many = Array.from({ length: PREPARED_PER_DISPATCH + 5 }, (_, i) => task({ _id: `m${i}` }));
    await hints.recording({ dispatch: async () => undefined }).dispatch(
      'preduplet',
      many.map((t) => t._id),
      'default',
      { written: many },
    );
    expect(reads).toBe(PREPARED_PER_DISPATCH);
    const last = hints.take('preduplet', `m${PREPARED_PER_DISPATCH + 4}`)!;
    expect(last.task._id).toBe(`m${PREPARED_PER_DISPATCH + 4}`);
    expect(last.prepared).toBeUndefined();
    await new Promise((r) => setTimeout(r, 60));
    expect(hints.take('preduplet', 'm0')!.prepared).toBeUndefined();
  });

  test('a failed capability read at the todo write leaves the claim to read it', async () => {
    const hints = new ClaimHints();
    hints.prepareWith(async () => {
      throw new Error('database unreachable');
    });
    hints.remember('preduplet', [task({})]);
    expect(await hints.preparedBlobs(hints.take('preduplet', 'u1')!)).toBeUndefined();
  });
});
