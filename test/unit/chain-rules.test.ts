import { bestDoneLink, modelStartFor, nextRankToStart, type ChainLink } from '../../orchestrator/domain/chain-rules';
import { afterUnsuccessfulAttempt, attemptOfToken } from '../../orchestrator/domain/lease-rules';
import { planMinibatches } from '../../orchestrator/domain/minibatches';

const link = (rank: number, status: ChainLink['status'], perf: number | null = null): ChainLink => ({
  uuid: `l${rank}`,
  rank,
  status,
  perf,
  model_start: null,
  model_end: `m${rank}`,
});

describe('minibatches', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const data = (uuid: string, s: number, i = 0) => ({ uuid, timestamp_upload: at(s), upload_index: i });

  test('train data in registration order, test data excluded, full batches only, the rest waits', () => {
    const registered = [data('d3', 2), data('d1', 1, 0), data('t1', 1, 1), data('d2', 1, 2), data('d4', 3), data('d5', 4)];
    expect(planMinibatches(registered, ['t1'], new Set(), 2)).toEqual({
      batches: [
        ['d1', 'd2'],
        ['d3', 'd4'],
      ],
      waiting: ['d5'],
    });
  });

  test('data already in a minibatch is not batched again', () => {
    const registered = [data('d1', 1), data('d2', 2), data('d3', 3)];
    expect(planMinibatches(registered, [], new Set(['d1', 'd2']), 2)).toEqual({ batches: [], waiting: ['d3'] });
  });
});

describe('chain rules', () => {
  test('rank 0 starts from the algo itself (untrained)', () => {
    expect(nextRankToStart([link(0, 'waiting'), link(1, 'waiting')], 'algo', 'higher')).toEqual({ uuid: 'l0', model_start: 'algo' });
  });

  test('only the first not-yet-run rank is runnable', () => {
    expect(nextRankToStart([link(0, 'pending'), link(1, 'waiting')], 'algo', 'higher')).toBeUndefined();
    expect(nextRankToStart([link(0, 'todo'), link(1, 'waiting')], 'algo', 'higher')).toBeUndefined();
  });

  test('after a better rank the next starts from its model', () => {
    expect(nextRankToStart([link(0, 'done', 0.6), link(1, 'done', 0.8), link(2, 'waiting')], 'algo', 'higher')).toEqual({ uuid: 'l2', model_start: 'm1' });
  });

  test('after a worse rank the next starts from the best model so far', () => {
    expect(nextRankToStart([link(0, 'done', 0.8), link(1, 'done', 0.6), link(2, 'waiting')], 'algo', 'higher')).toEqual({ uuid: 'l2', model_start: 'm0' });
  });

  test('a failed rank is skipped: the next starts from the best model before it', () => {
    expect(nextRankToStart([link(0, 'done', 0.7), link(1, 'failed'), link(2, 'waiting')], 'algo', 'higher')).toEqual({ uuid: 'l2', model_start: 'm0' });
    expect(nextRankToStart([link(0, 'failed'), link(1, 'waiting')], 'algo', 'higher')).toEqual({ uuid: 'l1', model_start: 'algo' });
  });

  test('a chain whose ranks are all finished has nothing to start', () => {
    expect(nextRankToStart([link(0, 'done', 1), link(1, 'failed')], 'algo', 'higher')).toBeUndefined();
  });

  test('metric direction: lower is better when the problem says so', () => {
    const chain = [link(0, 'done', 0.5), link(1, 'done', 0.3), link(2, 'done', 0.4)];
    expect(modelStartFor(3, chain, 'algo', 'lower')).toBe('m1');
    expect(modelStartFor(3, chain, 'algo', 'higher')).toBe('m0');
    expect(bestDoneLink(chain, 'lower')?.uuid).toBe('l1');
  });

  test('ranks after the one being started do not count', () => {
    expect(modelStartFor(1, [link(0, 'done', 0.5), link(2, 'done', 0.9)], 'algo', 'higher')).toBe('m0');
  });
});

describe('lease rules', () => {
  test('retry until the last attempt, then fail with the reason', () => {
    expect(afterUnsuccessfulAttempt(1, 3, 'expired', null)).toEqual({ next: 'todo' });
    expect(afterUnsuccessfulAttempt(3, 3, 'expired', null)).toEqual({ next: 'failed', reason: 'lease expired 3 times' });
    expect(afterUnsuccessfulAttempt(2, 2, 'failed', 'exit code 1')).toEqual({ next: 'failed', reason: 'failed 2 times; last failure: exit code 1' });
  });

  test('a lease token names its attempt', () => {
    expect(attemptOfToken('3.abcdefghijklmnopqrstuvwx')).toBe(3);
    expect(attemptOfToken('x.abcdefghijklmnopqrstuvwx')).toBeUndefined();
    expect(attemptOfToken('3.short')).toBeUndefined();
  });
});
