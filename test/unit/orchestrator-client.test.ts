import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OrchestratorClient, OrchestratorRequestError } from '../../shared/http/orchestrator-client';
import { RetryableHttpError } from '../../shared/http/http-retry';

/** The agents' client over node:http against a scripted server: answers, refusals and an unreachable orchestrator. */
describe('OrchestratorClient', () => {
  let server: http.Server;
  let answers: Array<[number, unknown]>;
  const seen: Array<{ method: string; url: string; body: string; key: string }> = [];
  let url: string;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, body, key: String(req.headers['x-api-key']) });
        const [status, json] = answers.shift() ?? [500, { error: { code: 'INTERNAL' } }];
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    seen.length = 0;
  });
  const client = (retries = 2) =>
    new OrchestratorClient({ baseUrl: url, apiKey: 'agent-key-0123456789', retry: { retries, initialDelayMs: 1, maxDelayMs: 2 } });

  test('a claim sends the worker as JSON with the key, and reads the task and lease of the answer', async () => {
    const lease = { token: '1.t', attempt: 1, expires_at: 'x', capability: 'c', writes: [] };
    answers = [[200, { preduplet_worker_set: 'p1', preduplet: { uuid: 'p1' }, lease, blob_locations: { 'model/m': 'http://b' } }]];
    const got = await client().claim('preduplet', 'p1', 'w1');
    expect(got).toEqual({ task: { uuid: 'p1' }, lease, blobLocations: { 'model/m': 'http://b' } });
    expect(seen).toEqual([{ method: 'POST', url: '/worker/preduplet/p1', body: JSON.stringify({ worker: 'w1' }), key: 'agent-key-0123456789' }]);
  });

  test('a 4xx is the typed refusal with its code, not retried', async () => {
    answers = [[409, { error: { code: 'LEASE_LOST', message: 'gone' } }]];
    const err = await client()
      .heartbeat('preduplet', 'p1', '1.t')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrchestratorRequestError);
    expect(err).toMatchObject({ status: 409, code: 'LEASE_LOST' });
    expect(seen).toHaveLength(1);
  });

  test('a 5xx is retried for a report, and the next answer counts', async () => {
    answers = [
      [503, { error: { code: 'DEPENDENCY_UNAVAILABLE' } }],
      [200, { updated_preduplet: 'p1' }],
    ];
    await client().report('preduplet', 'p1', '1.t', { status: 'done', prediction_storage_uuid: 's' });
    expect(seen.map((s) => s.url)).toEqual(['/preddone/p1', '/preddone/p1']);
    expect(JSON.parse(seen[1]!.body)).toEqual({ status: 'done', prediction_storage_uuid: 's', lease_token: '1.t' });
  });

  test('an unreachable orchestrator is a retryable error: retried for a heartbeat, not for a claim', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const gone = new OrchestratorClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: 'k'.repeat(20),
      retry: { retries: 2, initialDelayMs: 1, maxDelayMs: 2 },
    });
    await expect(gone.heartbeat('preduplet', 'p1', '1.t')).rejects.toBeInstanceOf(RetryableHttpError);
    await expect(gone.claim('preduplet', 'p1', 'w')).rejects.toBeInstanceOf(RetryableHttpError);
  });
});
