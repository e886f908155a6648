import { IllegalTransitionError } from '../../shared/errors/training-errors';
import {
  estimateSeconds,
  finalTaskEstimateMs,
  jobRemainingMs,
  p90,
  shouldLaunch,
  TIER_PLANS,
  trialEstimateMs,
  unknownTimeoutMs,
} from '../../orchestrator/training/budget';
import {
  akkioStatus,
  isFinalJobStatus,
  JOB_TRANSITIONS,
  modelStatusForJob,
  trainerRunStatus,
  transitionJob,
  transitionModel,
} from '../../orchestrator/training/job-status';
import { JOB_STATUSES } from '../../shared/contracts/training-contract';

describe('budget', () => {
  test('tiers grow in families and trials', () => {
    expect(TIER_PLANS[10].families).toEqual(['decision_tree', 'linear']);
    expect(TIER_PLANS[1800].families).toHaveLength(6);
    expect(TIER_PLANS[300].trialsPerFamily).toBeGreaterThan(TIER_PLANS[60].trialsPerFamily);
  });

  test('p90 and estimates: prior before any measurement, p90 after', () => {
    expect(p90([])).toBeUndefined();
    expect(p90([1, 2, 3, 4, 5, 6, 7, 8, 9, 100])).toBe(9);
    expect(p90([5])).toBe(5);
    expect(trialEstimateMs('neural_network', [])).toBe(8000);
    expect(trialEstimateMs('neural_network', [1000, 1200, 900])).toBe(1200);
    expect(finalTaskEstimateMs([])).toBe(6000);
    expect(finalTaskEstimateMs([4000])).toBe(12000);
  });

  test('never launches a trial that cannot fit with the final task', () => {
    const ask = (remainingMs: number, measured: number[]) =>
      shouldLaunch({ remainingMs, family: 'random_forest', measuredTrialMs: measured, finalTaskMs: finalTaskEstimateMs(measured) });
    expect(ask(10_000, [])).toBe(true); // 4 s prior + 6 s final
    expect(ask(9_999, [])).toBe(false);
    expect(ask(20_000, [3000, 3000, 9000])).toBe(false); // 9 s p90 + 27 s final
    expect(ask(36_000, [3000, 3000, 9000])).toBe(true);
    expect(ask(-1, [])).toBe(false);
  });

  test('what is left of a job: measured rounds per family, capped by the budget, then the final task', () => {
    const q = { nowMs: 0, deadlineMs: null, finalStartedAtMs: null };
    // Nothing measured: the priors (forest 4 s × 2 rounds on the slowest row) + the final prior (6 s).
    expect(
      jobRemainingMs({
        ...q,
        rows: [
          { family: 'random_forest', roundsLeft: 2 },
          { family: 'linear', roundsLeft: 1 },
        ],
        measured: [],
      }),
    ).toBe(14_000);
    // Measured forest trials of 1 s: 2 rounds × 1 s + max(6 s, 3 × 1 s); another family's measurement does not count for the forest.
    const measured = [
      { family: 'random_forest', ms: 1000 },
      { family: 'linear', ms: 3000 },
    ];
    expect(jobRemainingMs({ ...q, rows: [{ family: 'random_forest', roundsLeft: 2 }], measured })).toBe(2000 + 9000);
    // The budget stops launching: the search is capped at what remains before the final task (20 s - 9 s).
    expect(jobRemainingMs({ ...q, deadlineMs: 20_000, rows: [{ family: 'random_forest', roundsLeft: 30 }], measured })).toBe(20_000);
    // Past the budget: only the final task.
    expect(jobRemainingMs({ ...q, nowMs: 25_000, deadlineMs: 20_000, rows: [{ family: 'random_forest', roundsLeft: 30 }], measured })).toBe(9000);
    // The final task running for 4 s of its 9 s estimate.
    expect(jobRemainingMs({ ...q, nowMs: 14_000, finalStartedAtMs: 10_000, rows: [], measured })).toBe(5000);
    expect(jobRemainingMs({ ...q, nowMs: 30_000, finalStartedAtMs: 10_000, rows: [], measured })).toBe(0);
  });

  test('estimate_seconds and the UNKNOWN_TIMEOUT margin', () => {
    expect(estimateSeconds(0)).toBe(1);
    expect(estimateSeconds(20_001)).toBe(21);
    expect(unknownTimeoutMs(10)).toBe(45_000);
    expect(unknownTimeoutMs(1800)).toBe(2_730_000);
  });
});

describe('job statuses', () => {
  test('legal and illegal job transitions', () => {
    expect(transitionJob('pending', 'running')).toBe('running');
    expect(transitionJob('running', 'canceled')).toBe('canceled');
    expect(() => transitionJob('completed', 'running')).toThrow(IllegalTransitionError);
    expect(() => transitionJob('pending', 'completed')).toThrow(
      'a job cannot go from pending to completed; from pending it may go to: running, failed, canceled',
    );
  });

  test('the final statuses (the contract the agents read job ends by) are exactly those no transition leaves', () => {
    for (const status of JOB_STATUSES) expect([status, isFinalJobStatus(status)]).toEqual([status, JOB_TRANSITIONS[status].length === 0]);
  });

  test('front door names', () => {
    expect(trainerRunStatus('canceled', null)).toEqual({ status: 'failed', message: 'canceled' });
    expect(trainerRunStatus('failed', 'no rows left after the filter')).toEqual({ status: 'failed', message: 'no rows left after the filter' });
    expect(trainerRunStatus('running', null)).toEqual({ status: 'running', message: null });
    expect(akkioStatus('pending', 10, 0, 1000)).toBe('PENDING');
    expect(akkioStatus('running', 10, 0, 45_000)).toBe('IN_PROGRESS');
    expect(akkioStatus('running', 10, 0, 45_001)).toBe('UNKNOWN_TIMEOUT');
    expect(akkioStatus('completed', 10, 0, 10 ** 9)).toBe('SUCCEEDED');
    expect(akkioStatus('canceled', 10, 0, 1)).toBe('FAILED');
    expect(modelStatusForJob('canceled')).toBe('draft');
    expect(modelStatusForJob('completed')).toBe('trained');
  });

  test('registry transitions, with current and requested in the 409', () => {
    expect(transitionModel('draft', 'archived')).toBe('archived');
    expect(transitionModel('trained', 'training')).toBe('training');
    expect(transitionModel('training', 'draft')).toBe('draft');
    expect(transitionModel('deprecated', 'deprecated')).toBe('deprecated');
    try {
      transitionModel('archived', 'training');
      throw new Error('accepted');
    } catch (err) {
      expect(err).toBeInstanceOf(IllegalTransitionError);
      const e = err as IllegalTransitionError;
      expect([e.httpStatus, e.code, e.current, e.requested]).toEqual([409, 'ILLEGAL_TRANSITION', 'archived', 'training']);
      expect(e.toJSON().error.details).toEqual({ current: 'archived', requested: 'training', allowed: [] });
    }
    expect(() => transitionModel('draft', 'trained')).toThrow(IllegalTransitionError);
    expect(() => transitionModel('deprecated', 'trained')).toThrow(IllegalTransitionError);
  });
});
