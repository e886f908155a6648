import fc from 'fast-check';
import { startTestOrchestrator, TEST_KEYS, type TestOrchestrator } from '../harness/orchestrator-fixture';

/**
 * Property: whatever arrives (wrong types, missing or extra fields, operators in
 * keys and values, traversal in ids, malformed JSON, huge or deep bodies), every
 * answer is a 4xx with a message, nothing is written, and the service keeps serving.
 */
describe('orchestrator under arbitrary bad input', () => {
  let t: TestOrchestrator;
  let tried = 0;
  beforeAll(async () => {
    t = await startTestOrchestrator('badinput', { BODY_LIMIT_BYTES: '65536' });
    await t.call('organizer', 'POST', '/problem', { uuid: 'p', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
  });
  afterAll(async () => {
    process.stderr.write(`bad-input property tests: ${tried} inputs tried\n`);
    await t.cleanup();
  });

  const nasty = fc.oneof(
    fc.constantFrom('../x', '..%2Fx', '%2e%2e', '$gt', '{"$ne":1}', 'a/b', '', ' ', 'x'.repeat(300), '\u0000', '\ud800', 'é', 'p'),
    fc.string({ maxLength: 80 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.dictionary(fc.constantFrom('$ne', '$gt', '$where', 'a.b', 'x'), fc.string({ maxLength: 5 })),
    fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  );
  const key = fc.oneof(
    fc.constantFrom(
      'uuid',
      'workflow',
      'test_dataset',
      'size_train_dataset',
      'name',
      'problem',
      'problems',
      'data',
      'worker',
      'status',
      'perf',
      'lease_token',
      '$set',
      'a.b',
      '__proto__',
      'constructor',
    ),
    fc.string({ maxLength: 12 }),
  );
  const body = fc.dictionary(key, nasty, { maxKeys: 6 });
  const post = fc.constantFrom(
    ['organizer', '/problem'],
    ['author', '/algo'],
    ['provider', '/data'],
    ['reader', '/prediction'],
    ['compute', '/worker/learnuplet/x'],
    ['compute', '/worker/preduplet/x'],
    ['compute', '/learndone/x'],
    ['compute', '/preddone/x'],
    ['compute', '/worker/learnuplet/x/heartbeat'],
  ) as fc.Arbitrary<[keyof typeof TEST_KEYS, string]>;

  async function counts(): Promise<number[]> {
    return Promise.all(
      ['problems', 'algos', 'datas', 'learnuplets', 'preduplets', 'leases', 'settlements'].map((n) => t.database.db.collection(n).countDocuments()),
    );
  }

  test('random JSON bodies on every POST endpoint are refused with a 4xx and a message', async () => {
    const before = await counts();
    await fc.assert(
      fc.asyncProperty(post, body, async ([role, path], b) => {
        tried++;
        const reply = await t.call(role, 'POST', path, b);
        expect(reply.status).toBeGreaterThanOrEqual(400);
        expect(reply.status).toBeLessThan(500);
        expect(typeof reply.body.error.message).toBe('string');
        expect(reply.body.error.code).toMatch(/^[A-Z_]+$/);
      }),
      { numRuns: 300 },
    );
    expect(await counts()).toEqual(before);
  });

  test('random path segments and query strings on every GET are refused or answered, never a 5xx', async () => {
    const segment = fc.oneof(
      fc.constantFrom('..', '%2e%2e%2f', '%00', '%ff', '%c3%28', 'a%2Fb', 'x'.repeat(500)),
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
    );
    const query = fc.dictionary(
      fc.oneof(fc.constantFrom('status', 'status[$ne]', 'rank', 'limit', 'offset', 'problem', '__proto__', 'uuid[0]'), fc.string({ maxLength: 8 })),
      fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('-1', '1e9', 'done', '$ne', '%ff')),
      { maxKeys: 3 },
    );
    const collection = fc.constantFrom('problem', 'algos', 'data', 'learnuplet', 'preduplets');
    await fc.assert(
      fc.asyncProperty(collection, segment, query, async (c, s, q) => {
        tried++;
        const qs = Object.entries(q)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join('&');
        for (const path of [`/${c}/${s}`, `/${c}?${qs}`]) {
          const res = await fetch(`${t.url}${path}`, { headers: { 'x-api-key': TEST_KEYS.reader.key } });
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400) expect(((await res.json()) as any).error.message).toEqual(expect.any(String));
          else await res.arrayBuffer();
        }
      }),
      { numRuns: 200 },
    );
  });

  test('malformed JSON, wrong content, invalid UTF-8, huge and deeply nested bodies', async () => {
    const before = await counts();
    const raw = async (body: string | Buffer, contentType = 'application/json') => {
      tried++;
      const res = await fetch(`${t.url}/problem`, { method: 'POST', headers: { 'x-api-key': TEST_KEYS.organizer.key, 'content-type': contentType }, body });
      return { status: res.status, body: (await res.json()) as any };
    };
    for (const bad of ['{', '{"uuid": }', 'null', '[]', '"x"', '{"uuid":"a","uuid":"b"}']) {
      const reply = await raw(bad);
      expect(reply.status).toBe(400);
      expect(reply.body.error.message).toEqual(expect.any(String));
    }
    expect((await raw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]))).status).toBe(400);
    expect((await raw(`{"uuid": "${'x'.repeat(100_000)}"}`)).status).toBe(413);
    expect((await raw(`${'['.repeat(5000)}${']'.repeat(5000)}`)).status).toBe(400);
    expect((await raw('uuid=p9', 'application/x-www-form-urlencoded')).status).toBe(400);
    expect(await counts()).toEqual(before);
    // Still serving.
    expect((await t.call('reader', 'GET', '/problem/p')).status).toBe(200);
  });
});
