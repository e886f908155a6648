import { startTestOrchestrator, TEST_KEYS, type TestOrchestrator, type TestRole } from '../harness/orchestrator-fixture';

/**
 * Every endpoint × every role, plus no key and a wrong key. Bodies are empty on
 * purpose: a role that passes gets the validation's 400 (or a read's 200/404),
 * never 401/403; one that does not gets 401/403 before anything is read or written.
 */
describe('orchestrator permission matrix', () => {
  let t: TestOrchestrator;
  beforeAll(async () => void (t = await startTestOrchestrator('perms')));
  afterAll(async () => t.cleanup());

  type Who = TestRole | 'none' | 'wrong';
  const everyone: Who[] = ['organizer', 'provider', 'author', 'compute', 'compute2', 'reader', 'admin', 'none', 'wrong'];
  const ANY = ['organizer', 'provider', 'author', 'compute', 'compute2', 'reader', 'admin'];
  const endpoints: Array<[string, string, string[]]> = [
    ['POST', '/problem', ['organizer', 'reader', 'admin']],
    ['POST', '/algo', ['author', 'admin']],
    ['POST', '/data', ['provider', 'admin']],
    ['POST', '/prediction', ['organizer', 'provider', 'author', 'reader', 'admin']],
    ['POST', '/worker/learnuplet/x', ['compute', 'compute2', 'admin']],
    ['POST', '/worker/preduplet/x', ['compute', 'compute2', 'admin']],
    ['POST', '/worker/learnuplet/x/heartbeat', ['compute', 'compute2', 'admin']],
    ['POST', '/worker/learnuplet/x/release', ['compute', 'compute2', 'admin']],
    ['POST', '/learndone/x', ['compute', 'compute2', 'admin']],
    ['POST', '/preddone/x', ['compute', 'compute2', 'admin']],
    ...[
      '/problem',
      '/algo',
      '/data',
      '/learnuplet',
      '/preduplet',
      '/problem/x',
      '/algo/x',
      '/data/x',
      '/learnuplet/x',
      '/preduplet/x',
      '/problem/x/leaderboard',
    ].map((p): [string, string, string[]] => ['GET', p, ANY]),
  ];

  test('each endpoint answers each caller as the role table says', async () => {
    let checked = 0;
    for (const [method, path, allowed] of endpoints) {
      for (const who of everyone) {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (who === 'wrong') headers['x-api-key'] = 'not-a-key-of-this-deployment';
        else if (who !== 'none') headers['x-api-key'] = TEST_KEYS[who].key;
        const res = await fetch(`${t.url}${path}`, { method, headers, ...(method === 'POST' ? { body: '{}' } : {}) });
        const expected = who === 'none' || who === 'wrong' ? [401] : allowed.includes(who) ? [200, 400, 404, 409, 422] : [403];
        expect({ method, path, who, ok: expected.includes(res.status), status: res.status }).toEqual({ method, path, who, ok: true, status: res.status });
        checked++;
      }
    }
    process.stderr.write(`permission matrix: ${endpoints.length} endpoints × ${everyone.length} callers = ${checked} checks\n`);
    // Health probes need no key.
    for (const p of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${t.url}${p}`)).status).toBe(200);
  });
});
