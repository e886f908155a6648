import winston from 'winston';
import type { LeaseTerms, TaskKind } from '../../shared/contracts/work-contract';
import { OrchestratorRequestError } from '../../shared/http/orchestrator-client';
import { LeaseHeartbeat, type HeartbeatPort } from '../../compute-agent/lease-heartbeat';

const INTERVAL_MS = 1_000;
const terms = (n: number): LeaseTerms => ({ attempt: 1, expires_at: `2026-01-01T00:0${n}:00.000Z`, capability: `cap-${n}`, writes: ['model/m1'] });

/** An in-memory orchestrator: each heartbeat takes the next scripted answer (a renewal, or an error to throw). */
class ScriptedHeartbeats implements HeartbeatPort {
  readonly calls: string[] = [];
  constructor(private readonly answers: (LeaseTerms | Error | undefined)[]) {}

  async heartbeat(kind: TaskKind, uuid: string, token: string): Promise<LeaseTerms | void> {
    this.calls.push(`${kind}/${uuid}/${token}`);
    const answer = this.answers.shift();
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

/** Fake timers: each beat is one interval of the fake clock, never wall time. */
describe('lease heartbeat', () => {
  const logger = winston.createLogger({ silent: true });
  let heartbeat: LeaseHeartbeat | undefined;
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => {
    heartbeat?.stop();
    jest.useRealTimers();
  });

  function start(port: HeartbeatPort, onRenew?: (renewal: LeaseTerms) => void): LeaseHeartbeat {
    heartbeat = new LeaseHeartbeat(port, 'learnuplet', 'l1', '1.token-abcdefghijklmnop', INTERVAL_MS, logger, onRenew);
    heartbeat.start();
    return heartbeat;
  }
  const beats = async (n: number) => jest.advanceTimersByTimeAsync(n * INTERVAL_MS);

  test('beats once per interval, carrying the lease token, and nothing before the first interval', async () => {
    const port = new ScriptedHeartbeats([terms(1), terms(2), terms(3)]);
    start(port);
    await jest.advanceTimersByTimeAsync(INTERVAL_MS - 1);
    expect(port.calls).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    await beats(2);
    expect(port.calls).toEqual(Array(3).fill('learnuplet/l1/1.token-abcdefghijklmnop'));
  });

  test('each renewal hands over its fresh capability', async () => {
    const renewals: string[] = [];
    start(new ScriptedHeartbeats([terms(1), terms(2)]), (r) => renewals.push(r.capability));
    await beats(2);
    expect(renewals).toEqual(['cap-1', 'cap-2']);
  });

  test('an answer without terms (an older orchestrator) is not a renewal', async () => {
    const renewals: LeaseTerms[] = [];
    start(new ScriptedHeartbeats([undefined]), (r) => renewals.push(r));
    await beats(1);
    expect(renewals).toEqual([]);
  });

  test('a lost lease (409) aborts the task and stops beating', async () => {
    const port = new ScriptedHeartbeats([terms(1), new OrchestratorRequestError('gone', 409, 'LEASE_LOST'), terms(3)]);
    const hb = start(port);
    await beats(1);
    expect(hb.signal.aborted).toBe(false);
    await beats(1);
    expect(hb.signal.aborted).toBe(true);
    expect(String((hb.signal.reason as Error).message)).toContain('LEASE_LOST');
    await beats(5);
    expect(port.calls).toHaveLength(2);
  });

  test.each([
    ['the orchestrator unreachable', new TypeError('fetch failed')],
    ['a 5xx after retries', new OrchestratorRequestError('busy', 503, 'DEPENDENCY_UNAVAILABLE')],
    ['a refusal other than a lost lease', new OrchestratorRequestError('bad', 400, 'VALIDATION_FAILED')],
  ])('an error that is not a lost lease (%s) does not abort; the next beat renews', async (_what, error) => {
    const renewals: string[] = [];
    const port = new ScriptedHeartbeats([error, terms(2)]);
    const hb = start(port, (r) => renewals.push(r.capability));
    await beats(2);
    expect(hb.signal.aborted).toBe(false);
    expect(port.calls).toHaveLength(2);
    expect(renewals).toEqual(['cap-2']);
  });

  test('stop ends the beats', async () => {
    const port = new ScriptedHeartbeats([terms(1), terms(2)]);
    start(port).stop();
    await beats(3);
    expect(port.calls).toEqual([]);
  });
});
