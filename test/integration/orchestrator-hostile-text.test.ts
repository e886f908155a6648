import { startTestOrchestrator, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { todoLearnuplets } from '../harness/seed-scenarios';
import { OrchestratorClient } from '../../shared/http/orchestrator-client';
import { TEST_KEYS } from '../harness/orchestrator-fixture';

/**
 * Control characters and bidi overrides in strings (issue 15, item 3). PostgreSQL
 * under FerretDB refuses a NUL in a document, so a NUL that reaches the database is
 * a 500; it must be refused (names, filters) or sanitised (log tails) before.
 */
describe('control characters in orchestrator strings', () => {
  let t: TestOrchestrator;
  beforeAll(async () => {
    t = await startTestOrchestrator('hostiletext');
    await t.call('organizer', 'POST', '/problem', { uuid: 'ph', workflow: 'wf', test_dataset: ['t'], size_train_dataset: 1 });
  });
  afterAll(async () => t.cleanup());

  test.each([
    ['a NUL', 'a\u0000b'],
    ['an escape sequence', 'a\u001b[31mred'],
    ['a DEL', 'a\u007fb'],
    ['a C1 control', 'a\u0085b'],
    ['a right-to-left override', 'evil\u202Egpj.exe'],
    ['a left-to-right isolate', 'a\u2066b\u2069'],
    ['a newline', 'two\nlines'],
  ])('POST /algo with %s in its name: 400 naming the field, nothing stored', async (_what, name) => {
    const reply = await t.call('author', 'POST', '/algo', { uuid: 'a-ctl', name, problem: 'ph' });
    expect(reply.status).toBe(400);
    expect(reply.body.error.code).toBe('VALIDATION_FAILED');
    expect(reply.body.error.details).toEqual([expect.objectContaining({ where: 'body', field: 'name' })]);
    expect((await t.call('reader', 'GET', '/algo/a-ctl')).status).toBe(404);
  });

  test('a plain Unicode name is still accepted', async () => {
    const reply = await t.call('author', 'POST', '/algo', { uuid: 'a-uni', name: 'Réseau 🧠 نموذج', problem: 'ph' });
    expect(reply.status).toBe(201);
  });

  test.each(['name', 'owner'])('GET /algo?%s=a%00b: 400 naming the query field', async (field) => {
    const reply = await t.call('reader', 'GET', `/algo?${field}=a%00b`);
    expect(reply.status).toBe(400);
    expect(reply.body.error.details).toEqual([expect.objectContaining({ where: 'query', field })]);
  });

  test('GET /learnuplet?worker= with a control character: 400; lease tokens with one too', async () => {
    expect((await t.call('reader', 'GET', '/learnuplet?worker=%1b')).status).toBe(400);
    const [uuid] = await todoLearnuplets(t, 'ph-lt', 1);
    const beat = await t.call('compute', 'POST', `/worker/learnuplet/${uuid}/heartbeat`, { lease_token: 'x\u0000y' });
    expect(beat.status).toBe(400);
    expect(beat.body.error.details).toEqual([expect.objectContaining({ where: 'body', field: 'lease_token' })]);
  });

  test('a failure report whose reason and log tail hold NULs and escapes is recorded, sanitised, first time', async () => {
    const [uuid] = await todoLearnuplets(t, 'ph-fail', 1);
    const client = new OrchestratorClient({ baseUrl: t.url, apiKey: TEST_KEYS.compute.key, retry: { retries: 0 } });
    const { lease } = await client.claim('learnuplet', uuid!, 'node-1');
    await client.report('learnuplet', uuid!, lease.token, {
      status: 'failed',
      reason: 'exit 1\u0000',
      log_tail: 'line 1\n\tindented\u0000\u001b[31mred\u007f\r\nend',
    });
    const doc = (await t.call('reader', 'GET', `/learnuplet/${uuid}`)).body;
    expect(doc.failure_reason).toContain('exit 1');
    expect(doc.failure_reason).toContain('line 1\n\tindented');
    expect(doc.failure_reason).toContain('red');
    expect(doc.failure_reason).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });
});
