import { predictionBlobUuid } from '../../shared/contracts/blob-contract';
import { answerSchemas } from '../../shared/contracts/work-contract';
import { startTestOrchestrator, TEST_KEYS, type TestOrchestrator, type TestRole } from '../harness/orchestrator-fixture';
import { todoPreduplets } from '../harness/seed-scenarios';

/**
 * The compute calls' fast lane (orchestrator/routes/compute-fast-lane.ts) answers exactly as
 * express does. Each request is sent twice: as agents send it (the fast lane takes it) and with a
 * trailing slash, which only express routes; express stamps an ETag on its answers and the fast
 * lane does not, so each answer shows which of the two served it.
 */
describe('compute calls: the fast lane answers as express does', () => {
  let t: TestOrchestrator;
  beforeAll(async () => void (t = await startTestOrchestrator('fastlane', { BODY_LIMIT_BYTES: '4096' })));
  afterAll(async () => t.cleanup());

  interface Answer {
    status: number;
    body: any;
    contentType: string | null;
    requestId: string | null;
    etag: string | null;
    connection: string | null;
  }
  const send = async (path: string, init: { role?: TestRole | null; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers };
    const role = init.role === undefined ? 'compute' : init.role;
    if (role) headers['x-api-key'] = TEST_KEYS[role].key;
    const res = await fetch(`${t.url}${path}`, { method: 'POST', headers, body: init.body ?? '{}' });
    const text = await res.text();
    return {
      status: res.status,
      body: JSON.parse(text),
      contentType: res.headers.get('content-type'),
      requestId: res.headers.get('x-request-id'),
      etag: res.headers.get('etag'),
      connection: res.headers.get('connection'),
    };
  };
  /** The same request through the fast lane and through express; both answers, checked for who served them. */
  const both = async (path: string, init: Parameters<typeof send>[1] = {}) => {
    const fast = await send(path, init);
    const slow = await send(`${path}/`, init);
    expect(fast.etag).toBeNull();
    expect(slow.etag).not.toBeNull();
    return { fast, slow };
  };
  const sameRefusal = ({ fast, slow }: { fast: Answer; slow: Answer }, status: number, code: string) => {
    for (const a of [fast, slow]) {
      expect(a.status).toBe(status);
      expect(a.body.error.code).toBe(code);
      expect(a.body.error.message).toEqual(expect.any(String));
      expect(a.contentType).toBe('application/json; charset=utf-8');
      expect(a.requestId).toMatch(/^[A-Za-z0-9._-]+$/);
    }
    expect(fast.body.error.details).toEqual(slow.body.error.details);
    // The wording of a JSON parser's complaint may differ; every other refusal says the same.
    if (!/not valid JSON/.test(String(slow.body.error.message))) expect(fast.body.error.message).toBe(slow.body.error.message);
  };

  test('refusals: no key, bad JSON, a top-level scalar, a wrong kind, an unknown task, a missing field, another role', async () => {
    const [uuid] = await todoPreduplets(t, 'fl-refuse', 1);
    sameRefusal(await both(`/worker/preduplet/${uuid}`, { role: null }), 401, 'UNAUTHENTICATED');
    sameRefusal(await both(`/worker/preduplet/${uuid}`, { body: '{"worker":' }), 400, 'VALIDATION_FAILED');
    sameRefusal(await both(`/worker/preduplet/${uuid}`, { body: '"w"' }), 400, 'VALIDATION_FAILED');
    sameRefusal(await both(`/worker/nope/${uuid}`, { body: '{"worker":"w"}' }), 400, 'VALIDATION_FAILED');
    sameRefusal(await both('/worker/preduplet/no-such-task', { body: '{"worker":"w"}' }), 404, 'NOT_FOUND');
    sameRefusal(await both(`/worker/preduplet/${uuid}`, { body: '' }), 400, 'VALIDATION_FAILED');
    sameRefusal(await both(`/preddone/${uuid}`, { role: 'organizer', body: '{"status":"done"}' }), 403, 'FORBIDDEN');
    sameRefusal(await both(`/worker/preduplet/${uuid}/heartbeat`, { body: '{"lease_token":"1.nope"}' }), 409, 'LEASE_LOST');
    // Nothing was claimed by any of it.
    expect((await t.orchestrator.collections.preduplets.findOne({ _id: uuid! }))?.status).toBe('todo');
  });

  test('a body over the limit is read to its end, refused with 413 as Express does, and the connection stays usable', async () => {
    const [uuid] = await todoPreduplets(t, 'fl-large', 1);
    // Several MB: a server that closed the socket at once would leave the client a reset, not an answer.
    for (const size of [200_000, 5_000_000]) {
      const answers = await both(`/worker/preduplet/${uuid}`, { body: JSON.stringify({ worker: 'w', pad: 'x'.repeat(size) }) });
      sameRefusal(answers, 413, 'PAYLOAD_TOO_LARGE');
      expect(answers.fast.connection).toBe(answers.slow.connection);
    }
    expect((await t.orchestrator.collections.preduplets.findOne({ _id: uuid! }))?.status).toBe('todo');
  });

  test('where the agent says it works: a malformed site header, and a site the task is not at', async () => {
    const [uuid] = await todoPreduplets(t, 'fl-site', 1);
    sameRefusal(await both(`/worker/preduplet/${uuid}`, { body: '{"worker":"w"}', headers: { 'x-uplet-site': 'no such site!' } }), 400, 'VALIDATION_FAILED');
    sameRefusal(await both(`/worker/preduplet/${uuid}`, { body: '{"worker":"w","site":"elsewhere"}' }), 403, 'WRONG_SITE');
    expect((await t.orchestrator.collections.preduplets.findOne({ _id: uuid! }))?.status).toBe('todo');
  });

  test('what the fast lane does not take exactly goes to express: compressed bodies, other content types, another case', async () => {
    const [uuid] = await todoPreduplets(t, 'fl-other', 1);
    for (const answer of [
      await send(`/worker/preduplet/${uuid}`, { headers: { 'content-encoding': 'gzip' } }),
      await send(`/worker/preduplet/${uuid}`, { headers: { 'content-type': 'text/plain' }, body: 'worker=w' }),
      await send(`/Worker/preduplet/${uuid}`, { headers: { 'content-type': 'text/plain' }, body: 'worker=w' }),
    ]) {
      expect(answer.etag).not.toBeNull();
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
    }
  });

  test('a claim, a heartbeat and a report answer alike through either, and the caller request id is echoed', async () => {
    const uuids = await todoPreduplets(t, 'fl-cycle', 2);
    const bodies = [];
    for (const [uuid, slash] of [
      [uuids[0]!, ''],
      [uuids[1]!, '/'],
    ] as const) {
      const claim = await send(`/worker/preduplet/${uuid}${slash}`, { body: '{"worker":"w"}', headers: { 'x-request-id': `claim-${uuid}` } });
      expect(claim.status).toBe(200);
      expect(claim.requestId).toBe(`claim-${uuid}`);
      expect(claim.etag === null).toBe(slash === '');
      expect(answerSchemas.claim('preduplet').validate(claim.body, { presence: 'optional' }).error).toBeUndefined();
      const token = claim.body.lease.token as string;
      const beat = await send(`/worker/preduplet/${uuid}/heartbeat${slash}`, { body: JSON.stringify({ lease_token: token }) });
      expect(beat.status).toBe(200);
      const report = await send(`/preddone/${uuid}${slash}`, {
        body: JSON.stringify({ status: 'done', prediction_storage_uuid: predictionBlobUuid(uuid, claim.body.lease.attempt), lease_token: token }),
      });
      expect(report.status).toBe(200);
      expect(report.body.preduplet.status).toBe('done');
      bodies.push({ claim: Object.keys(claim.body).sort(), lease: Object.keys(claim.body.lease).sort(), beat: Object.keys(beat.body.lease).sort() });
    }
    expect(bodies[0]).toEqual(bodies[1]);
  });

  test('the requests metric labels the fast lane route as express does', async () => {
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/uplet_http_requests_total\{method="POST",route="\/worker\/:kind\/:uuid",status="200"\} [1-9]/);
    expect(metrics).toMatch(/uplet_http_requests_total\{method="POST",route="unmatched",status="401"\} [1-9]/);
  });
});
