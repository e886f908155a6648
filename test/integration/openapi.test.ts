import { createOrchestratorApp } from '../../orchestrator/app';
import { silentLogger } from '../../shared/logging/logger';
import { createStorageApp } from '../../storage-gateway/app';
import { checkerFor, takeMismatches } from '../harness/openapi-conformance';
import { callAs, startTestOrchestrator, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { checkedFetch, startTestStorage, type TestStorage } from '../harness/storage-fixture';

/**
 * The OpenAPI descriptions: served without a key, compiled by Ajv, with a docs
 * page; and the check every suite's answers go through reports drift.
 */
describe('OpenAPI descriptions', () => {
  let t: TestOrchestrator;
  let s: TestStorage;
  beforeAll(async () => {
    t = await startTestOrchestrator('openapi');
    s = await startTestStorage();
  });
  afterAll(async () => {
    await s?.cleanup();
    await t?.cleanup();
  });

  test('each service serves its OpenAPI 3.1 description without a key, and every response schema compiles', async () => {
    for (const [url, service] of [
      [t.url, 'orchestrator'],
      [s.url, 'storage'],
    ] as const) {
      const res = await fetch(`${url}/openapi.json`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths).length).toBeGreaterThan(2);
      expect(checkerFor(service).compileAll()).toBeGreaterThan(10);
    }
    const orchestratorPaths = Object.keys(((await (await fetch(`${t.url}/openapi.json`)).json()) as { paths: object }).paths);
    expect(orchestratorPaths).toEqual(
      expect.arrayContaining([
        '/problem',
        '/algo',
        '/data',
        '/prediction',
        '/learnuplet/{uuid}',
        '/problem/{uuid}/leaderboard',
        '/algo/{uuid}/cancel',
        '/worker/{kind}/{uuid}',
        '/learndone/{uuid}',
      ]),
    );
  });

  test('the docs page is served offline from swagger-ui-dist', async () => {
    const page = await fetch(`${t.url}/docs/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('swagger-ui-bundle.js');
    const bundle = await fetch(`${s.url}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect(Number(bundle.headers.get('content-length'))).toBeGreaterThan(100_000);
    expect((await fetch(`${t.url}/docs`, { redirect: 'manual' })).status).toBe(301);
  });

  test('a whole seed flow through callAs and checkedFetch meets the description, refusals included', async () => {
    expect(
      (await callAs(t.url, 'organizer', 'POST', '/problem', { uuid: 'oa-p', workflow: 'oa-wf', test_dataset: ['oa-t'], size_train_dataset: 1 })).status,
    ).toBe(201);
    expect((await callAs(t.url, 'provider', 'POST', '/data', { uuid: ['oa-t', 'oa-d1', 'oa-d2'], problems: 'oa-p' })).status).toBe(201);
    expect((await callAs(t.url, 'author', 'POST', '/algo', { uuid: 'oa-a', name: 'A', problem: 'oa-p' })).status).toBe(201);
    const [rank0] = (await callAs(t.url, 'reader', 'GET', '/learnuplet?problem=oa-p')).body.learnuplets;
    const claim = await callAs(t.url, 'compute', 'POST', `/worker/learnuplet/${rank0.uuid}`, { worker: 'w' });
    expect(claim.status).toBe(200);
    expect((await callAs(t.url, 'compute', 'POST', `/worker/learnuplet/${rank0.uuid}/heartbeat`, { lease_token: claim.body.lease.token })).status).toBe(200);
    expect(
      (
        await callAs(t.url, 'compute', 'POST', `/learndone/${rank0.uuid}`, {
          status: 'done',
          perf: 0.7,
          train_perf: [0.6],
          test_perf: [0.7],
          lease_token: claim.body.lease.token,
        })
      ).status,
    ).toBe(200);
    for (const p of [
      '/problem',
      '/problem/oa-p',
      '/problems/oa-p',
      '/algo?problem=oa-p',
      '/datas',
      '/learnuplets?status=done',
      '/preduplet',
      '/problem/oa-p/leaderboard',
      '/healthz',
      '/readyz',
    ]) {
      expect((await callAs(t.url, 'reader', 'GET', p)).status).toBe(200);
    }
    expect((await callAs(t.url, 'provider', 'POST', '/prediction', { data: ['oa-t'], problem: 'oa-p' })).status).toBe(201);
    // Refusals: bad body, no key, wrong role, unknown document, unknown route, cancel.
    expect((await callAs(t.url, 'organizer', 'POST', '/problem', { uuid: 'x y' })).status).toBe(400);
    expect((await callAs(t.url, null, 'GET', '/problem')).status).toBe(401);
    expect((await callAs(t.url, 'provider', 'POST', '/algo', { uuid: 'z', name: 'z', problem: 'oa-p' })).status).toBe(403);
    expect((await callAs(t.url, 'reader', 'GET', '/algo/nope')).status).toBe(404);
    expect((await callAs(t.url, 'reader', 'GET', '/no/such/route')).status).toBe(404);
    expect((await callAs(t.url, 'author', 'POST', '/algo/oa-a/cancel')).status).toBe(200);
    // The storage gateway.
    expect(
      (await checkedFetch(`${s.url}/blobs/algo/oa-blob`, { method: 'PUT', headers: { 'x-api-key': 'author-key-00000000000000' }, body: 'tar' })).status,
    ).toBe(201);
    expect((await checkedFetch(`${s.url}/blobs/algo/oa-blob/meta`, { headers: { 'x-api-key': 'author-key-00000000000000' } })).status).toBe(200);
    expect((await checkedFetch(`${s.url}/blobs/algo/oa-blob`, { headers: { 'x-api-key': 'author-key-00000000000000' } })).status).toBe(200);
    expect((await checkedFetch(`${s.url}/blobs/bogus/oa-blob`, { headers: { 'x-api-key': 'author-key-00000000000000' } })).status).toBe(400);
    expect(takeMismatches()).toEqual([]);
  });

  test('a drifted answer is reported: a missing key, a wrong type, an undescribed status, an undescribed route', async () => {
    const real = await callAs(t.url, 'author', 'POST', '/algo', { uuid: 'oa-b', name: 'B', problem: 'oa-p' });
    expect(real.status).toBe(201);
    expect(takeMismatches()).toEqual([]);
    const checker = checkerFor('orchestrator');
    const json = 'application/json; charset=utf-8';
    const { new_learnuplets: _dropped, ...withoutCount } = real.body;
    expect(checker.check('POST', '/algo', 201, withoutCount, json).join('\n')).toMatch(/new_learnuplets/);
    expect(checker.check('POST', '/algo', 201, { ...real.body, new_algo: { ...real.body.new_algo, timestamp_upload: 12 } }, json).join('\n')).toMatch(
      /timestamp_upload/,
    );
    expect(checker.check('POST', '/algo', 202, real.body, json).join('\n')).toMatch(/202, which the description does not list/);
    expect(checker.check('GET', '/sites-not-described', 200, {}, json).join('\n')).toMatch(/not in the description/);
    expect(checker.check('GET', '/algo/oa-b', 404, { message: 'no' }, json).join('\n')).toMatch(/error/);
  });
});

describe('GET /events', () => {
  let t: TestOrchestrator;
  beforeAll(async () => void (t = await startTestOrchestrator('events-sse')));
  afterAll(async () => t?.cleanup());

  test("streams the status events of one problem as Server-Sent Events; a bad filter is the API's 400", async () => {
    const bad = await callAs(t.url, 'reader', 'GET', '/events?problem=a/b');
    expect(bad.status).toBe(400);
    expect(takeMismatches()).toEqual([]);
    const controller = new AbortController();
    const res = await fetch(`${t.url}/events?problem=ev-p`, { headers: { 'x-api-key': 'reader-key-00000000000000' }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const heard = (async () => {
      while (!/"status":"todo"/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    })();
    await callAs(t.url, 'organizer', 'POST', '/problem', { uuid: 'ev-p', workflow: 'wf', test_dataset: ['ev-t'], size_train_dataset: 1 });
    await callAs(t.url, 'provider', 'POST', '/data', { uuid: ['ev-t', 'ev-d'], problems: 'ev-p' });
    await callAs(t.url, 'author', 'POST', '/algo', { uuid: 'ev-a', name: 'A', problem: 'ev-p' });
    await Promise.race([heard, new Promise((_, reject) => setTimeout(() => reject(new Error(`no event within 10 s; got ${text}`)), 10_000))]);
    controller.abort();
    const event = JSON.parse(
      text
        .split('\n')
        .find((l) => l.startsWith('data: ') && l.includes('"todo"'))!
        .slice(6),
    );
    expect(event).toMatchObject({ subject: 'learnuplet', status: 'todo', scope: { problem: 'ev-p' } });
    expect(checkerFor('orchestrator').check('GET', '/events', 200, undefined, 'text/event-stream')).toEqual([]);
  });
});

describe('every route is described', () => {
  /** The (method, path) pairs an Express app serves, from its router stack (nested routers included). */
  function routesOf(stack: any[], prefix = ''): string[] {
    const out: string[] = [];
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const p of paths)
          for (const m of Object.keys(layer.route.methods)) out.push(`${m.toUpperCase()} ${prefix}${String(p).replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.handle?.stack) {
        out.push(...routesOf(layer.handle.stack, prefix));
      }
    }
    return out;
  }
  const described = (doc: { paths: Record<string, object> }) =>
    Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`));
  // The description itself, its page and the dashboard's files are not API operations.
  const notApi = (r: string) => /^GET \/(openapi\.json|docs|dashboard)/.test(r);

  test('the orchestrator and the gateway serve no route their description lacks (a new route needs its fragment)', () => {
    const stub = {} as never;
    const orchestrator = createOrchestratorApp({
      collections: stub,
      registration: stub,
      leases: stub,
      kinds: stub,
      cancellation: stub,
      keys: stub,
      logger: silentLogger(),
      metrics: stub,
      readiness: stub,
      bodyLimitBytes: 1,
      issueCapability: stub,
      sites: stub,
      eventHub: stub,
    });
    const storage = createStorageApp({ store: stub, keys: stub, logger: silentLogger(), maxBlobBytes: 1, capabilitySecret: 'x' });
    for (const [app, service] of [
      [orchestrator, 'orchestrator'],
      [storage, 'storage'],
    ] as const) {
      const served = [...new Set(routesOf((app as any).router.stack))].filter((r) => !notApi(r));
      expect(served).toContain(service === 'orchestrator' ? 'GET /problem/{uuid}/leaderboard' : 'HEAD /blobs/{kind}/{uuid}');
      const doc = checkerFor(service) as unknown as { doc: { paths: Record<string, object> } };
      expect(served.filter((r) => !described(doc.doc).includes(r))).toEqual([]);
    }
  });
});
