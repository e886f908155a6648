import net from 'node:net';
import zlib from 'node:zlib';
import { startTestOrchestrator, TEST_KEYS, type TestOrchestrator } from '../harness/orchestrator-fixture';

/**
 * The orchestrator authenticates before it reads a body, never inflates one, and
 * cuts a request that stalls (issue 15, item 5). Raw sockets, so the test controls
 * exactly which bytes are sent and when.
 */
describe('orchestrator request limits', () => {
  const TIMEOUT_MS = 1000;
  let t: TestOrchestrator;
  beforeAll(async () => void (t = await startTestOrchestrator('reqlimits', { REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) })));
  afterAll(async () => t.cleanup());

  /** Sends `head` and `body`, keeps the socket open, and resolves with what the server answered and when it closed. */
  function rawRequest(head: string, body: Buffer): Promise<{ text: string; ms: number }> {
    const { port } = new URL(t.url);
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const socket = net.connect(Number(port), '127.0.0.1');
      let text = '';
      socket.on('data', (d) => (text += d.toString('latin1')));
      socket.on('close', () => resolve({ text, ms: Date.now() - started }));
      socket.on('error', reject);
      socket.write(head);
      socket.write(body);
    });
  }
  const statusOf = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);

  // 16.7 MB of JSON whitespace-padding in a 16 KB gzip body.
  const bomb = zlib.gzipSync(Buffer.concat([Buffer.from('{"uuid":"p","x":"'), Buffer.alloc(16_700_000, 0x61), Buffer.from('"}')]), { level: 9 });

  test('a gzip bomb without a key: 401 before any of the body is read', async () => {
    expect(bomb.length).toBeLessThan(20_000);
    // Only half the body is sent, and the socket stays open: an answer proves the body was not waited for.
    const reply = await rawRequest(
      `POST /problem HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: ${bomb.length}\r\n\r\n`,
      bomb.subarray(0, bomb.length / 2),
    );
    expect(statusOf(reply.text)).toBe(401);
    expect(reply.text).toContain('UNAUTHENTICATED');
    expect(reply.ms).toBeLessThan(TIMEOUT_MS);
  }, 5_000);

  test('a gzip body with a key: 415, never inflated', async () => {
    const res = await fetch(`${t.url}/problem`, {
      method: 'POST',
      headers: { 'x-api-key': TEST_KEYS.organizer.key, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: bomb,
    });
    expect(res.status).toBe(415);
    const body = (await res.json()) as any;
    expect(body.error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', details: { where: 'header', field: 'content-encoding' } });
    // identity is what every client sends; it is still accepted.
    const plain = await fetch(`${t.url}/problem/none`, { headers: { 'x-api-key': TEST_KEYS.organizer.key, 'content-encoding': 'identity' } });
    expect(plain.status).toBe(404);
  });

  // /problem goes through Express; a compute call through the fast lane (orchestrator/routes/compute-fast-lane.ts).
  test.each([
    ['/problem', TEST_KEYS.organizer.key],
    ['/worker/preduplet/x', TEST_KEYS.compute.key],
  ])(
    'a body that stalls is cut within REQUEST_TIMEOUT_MS: %s',
    async (path, key) => {
      const reply = await rawRequest(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`,
        Buffer.from('{"uuid":'),
      );
      expect(reply.ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(reply.ms).toBeLessThan(TIMEOUT_MS * 2 + 500);
      if (reply.text) expect(statusOf(reply.text)).toBe(408);
      process.stderr.write(`stalled body on ${path} cut after ${reply.ms} ms (REQUEST_TIMEOUT_MS=${TIMEOUT_MS})\n`);
      // The service still answers.
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    },
    10_000,
  );

  test('a compute call without a key: 401 before any of its body is read', async () => {
    const reply = await rawRequest(
      `POST /worker/preduplet/x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`,
      Buffer.from('{"worker":"w",'),
    );
    expect(statusOf(reply.text)).toBe(401);
    expect(reply.text).toContain('UNAUTHENTICATED');
    expect(reply.ms).toBeLessThan(TIMEOUT_MS);
  }, 5_000);

  test('a compute call that frames no body is refused as Express refuses it: the body must be a JSON object', async () => {
    for (const path of ['/worker/preduplet/x', '/worker/preduplet/x/']) {
      const reply = await rawRequest(
        `POST ${path} HTTP/1.1\r\nHost: x\r\nX-API-Key: ${TEST_KEYS.compute.key}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n`,
        Buffer.alloc(0),
      );
      expect(statusOf(reply.text)).toBe(400);
      expect(reply.text).toContain('the body must be a JSON object');
    }
  }, 5_000);

  test('headers that stall are cut too', async () => {
    const reply = await rawRequest('POST /problem HTTP/1.1\r\nHost: x\r\n', Buffer.alloc(0));
    expect(reply.ms).toBeLessThan(TIMEOUT_MS * 2 + 500);
  }, 10_000);

  test('REQUEST_TIMEOUT_MS is validated at start-up', async () => {
    await expect(startTestOrchestrator('reqlimits-bad', { REQUEST_TIMEOUT_MS: '0' })).rejects.toThrow(/REQUEST_TIMEOUT_MS/);
  });
});
