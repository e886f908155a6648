import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OrchestratorClient } from '../../shared/http/orchestrator-client';
import { StorageClient } from '../../shared/http/storage-client';
import { RetryableHttpError } from '../../shared/http/http-retry';

/**
 * An answer cut off after its head (the server's process died while sending it) is a network
 * fault like a refused connection: both agents' clients retry the request, and what the next
 * answer says counts. Against a real node:http server that announces a body and closes the
 * socket halfway through it.
 */
describe('answers that break off', () => {
  let server: http.Server;
  let url: string;
  /** How many of the next answers to cut off halfway. */
  let toBreak = 0;
  const requests: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        const body = JSON.stringify(
          req.url!.startsWith('/blobs') ? { uuid: 'b', kind: 'model', sha256: 'a'.repeat(64), size: 3 } : { updated_preduplet: 'p1' },
        );
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
        if (toBreak > 0) {
          toBreak--;
          res.write(body.slice(0, 10), () => res.socket?.destroy());
          return;
        }
        res.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    requests.length = 0;
  });
  const retry = { retries: 2, initialDelayMs: 1, maxDelayMs: 2 };

  test("the storage gateway's answer: retried, and the whole second answer is the result", async () => {
    toBreak = 1;
    const meta = await new StorageClient({ baseUrl: url, apiKey: 'agent-key-0123456789', retry }).meta('model', 'b');
    expect(meta).toMatchObject({ uuid: 'b', size: 3 });
    expect(requests).toEqual(['GET /blobs/model/b/meta', 'GET /blobs/model/b/meta']);
  });

  test("the orchestrator's answer to a report: retried, and the whole second answer is the result", async () => {
    toBreak = 1;
    await new OrchestratorClient({ baseUrl: url, apiKey: 'agent-key-0123456789', retry }).report('preduplet', 'p1', '1.t', {
      status: 'done',
      prediction_storage_uuid: 's',
    });
    expect(requests).toEqual(['POST /preddone/p1', 'POST /preddone/p1']);
  });

  test('past its retries the client gives up with a retryable error naming the request', async () => {
    toBreak = 3;
    const err = await new StorageClient({ baseUrl: url, apiKey: 'agent-key-0123456789', retry }).meta('model', 'b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableHttpError);
    expect((err as Error).message).toMatch(/storage gateway: meta model b: the answer broke off/);
    expect(requests).toHaveLength(3);
  });
});
