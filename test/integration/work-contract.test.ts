import Joi from 'joi';
import { predictionBlobUuid } from '../../shared/contracts/blob-contract';
import { answerSchemas, claimAnswerKey, reportPath, WORK_ERROR_CODES, type TaskKind } from '../../shared/contracts/work-contract';
import { startTestOrchestrator, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { todoLearnuplets, todoPreduplets } from '../harness/seed-scenarios';

/** The orchestrator's real answers match the wire contract the agents' client is written against. */
describe('work contract', () => {
  let t: TestOrchestrator;
  beforeAll(async () => void (t = await startTestOrchestrator('contract')));
  afterAll(async () => t.cleanup());

  const conforms = (schema: Joi.Schema, body: unknown) => {
    const { error } = schema.validate(body, { presence: 'optional' });
    expect(error?.message).toBeUndefined();
  };
  const knownCodes = new Set<string>(Object.values(WORK_ERROR_CODES));

  const cycle = async (kind: TaskKind, uuids: string[], done: (uuid: string, attempt: number) => Record<string, unknown>) => {
    const [first, second] = uuids;
    const claim = await t.call('compute', 'POST', `/worker/${kind}/${first}`, { worker: 'contract' });
    expect(claim.status).toBe(200);
    conforms(answerSchemas.claim(kind), claim.body);
    expect(claim.body[claimAnswerKey(kind)]).toBe(first);

    const beat = await t.call('compute', 'POST', `/worker/${kind}/${first}/heartbeat`, { lease_token: claim.body.lease.token });
    conforms(answerSchemas.heartbeat, beat.body);

    const again = await t.call('compute2', 'POST', `/worker/${kind}/${first}`, { worker: 'other' });
    expect(again.status).toBe(409);
    conforms(answerSchemas.refusal, again.body);
    expect(knownCodes.has(again.body.error.code)).toBe(true);

    const released = await t.call('compute', 'POST', `/worker/${kind}/${first}/release`, { lease_token: claim.body.lease.token });
    conforms(answerSchemas.release(kind), released.body);
    const lost = await t.call('compute', 'POST', `/worker/${kind}/${first}/heartbeat`, { lease_token: claim.body.lease.token });
    expect(lost.body.error.code).toBe(WORK_ERROR_CODES.LEASE_LOST);

    // The seed's report path and the generic one answer alike.
    for (const [uuid, path] of [
      [first!, reportPath(kind, first!)],
      [second!, `/worker/${kind}/${second}/report`],
    ] as const) {
      const c = await t.call('compute', 'POST', `/worker/${kind}/${uuid}`, { worker: 'contract' });
      const report = await t.call('compute', 'POST', path, { ...done(uuid, c.body.lease.attempt), lease_token: c.body.lease.token });
      expect(report.status).toBe(200);
      conforms(answerSchemas.report(kind), report.body);
    }
  };

  test('learnuplet: claim, heartbeat, refusal, release, report', async () => {
    const uuids = await todoLearnuplets(t, 'contract-l', 2);
    await cycle('learnuplet', uuids, () => ({ status: 'done', perf: 0.5, train_perf: [0.5], test_perf: [0.5] }));
  });

  test('preduplet: claim, heartbeat, refusal, release, report', async () => {
    const uuids = await todoPreduplets(t, 'contract-p', 2);
    await cycle('preduplet', uuids, (uuid, attempt) => ({ status: 'done', prediction_storage_uuid: predictionBlobUuid(uuid, attempt) }));
  });
});
