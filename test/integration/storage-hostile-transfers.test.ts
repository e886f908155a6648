import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { TEST_KEYS, type TestRole } from '../harness/orchestrator-fixture';
import { filesUnder, startTestStorage, type TestStorage } from '../harness/storage-fixture';

/** Transfers that stall, race or carry hostile headers (issue 15, items 6, 8, 9). */
describe('storage gateway against hostile transfers', () => {
  const IDLE_MS = 500;
  let s: TestStorage;
  beforeAll(async () => void (s = await startTestStorage({ STORAGE_IDLE_TIMEOUT_MS: String(IDLE_MS), STORAGE_MAX_BLOB_BYTES: String(16 * 1024 * 1024) })));
  afterAll(async () => s.cleanup());

  const put = (role: TestRole | null, kind: string, uuid: string, body: Buffer | string, headers: Record<string, string> = {}) =>
    fetch(`${s.url}/blobs/${kind}/${uuid}`, { method: 'PUT', headers: { ...(role ? { 'x-api-key': TEST_KEYS[role].key } : {}), ...headers }, body });

  /** Polls until `check` holds (the gateway's cleanup runs just after the socket closes), failing after `ms`. */
  async function eventually(check: () => boolean, ms = 3_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error('condition never held');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('an upload that sends 10 bytes and stalls is cut after the idle timeout and leaves no temporary file', async () => {
    const { port } = new URL(s.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    const started = Date.now();
    const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)));
    socket.on('error', () => undefined);
    socket.write(`PUT /blobs/algo/stalled HTTP/1.1\r\nHost: x\r\nX-API-Key: ${TEST_KEYS.author.key}\r\nContent-Length: 1000000\r\n\r\n`);
    socket.write(Buffer.alloc(10, 1));
    // The upload is under way: its temporary file exists.
    await eventually(() => filesUnder(path.join(s.dir, 'tmp')).length === 1);
    const ms = await closed;
    process.stderr.write(`stalled upload cut after ${ms} ms (STORAGE_IDLE_TIMEOUT_MS=${IDLE_MS})\n`);
    expect(ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(ms).toBeLessThan(IDLE_MS * 4);
    await eventually(() => filesUnder(path.join(s.dir, 'tmp')).length === 0);
    expect(filesUnder(path.join(s.dir, 'content'))).toEqual([]);
    expect((await fetch(`${s.url}/blobs/algo/stalled`, { headers: { 'x-api-key': TEST_KEYS.author.key } })).status).toBe(404);
  }, 10_000);

  test('a slow upload that keeps sending is not cut', async () => {
    const chunks = 6;
    const body = new ReadableStream({
      async start(c) {
        for (let i = 0; i < chunks; i++) {
          c.enqueue(new Uint8Array(1000).fill(i));
          await new Promise((r) => setTimeout(r, IDLE_MS / 3));
        }
        c.close();
      },
    });
    const res = await fetch(`${s.url}/blobs/algo/slow`, { method: 'PUT', headers: { 'x-api-key': TEST_KEYS.author.key }, body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(201);
    expect(((await res.json()) as any).size).toBe(chunks * 1000);
  }, 10_000);
});
