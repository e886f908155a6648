import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { freePort } from '../../standalone/local-db/ferretdb-process';
import { signCapability } from '../../shared/auth/capability-token';
import { TEST_CAPABILITY_SECRET, TEST_KEYS } from '../harness/orchestrator-fixture';
import { startServiceProcess, waitForHttp, type ServiceProcess } from '../harness/service-process';

const GIB = 1024 ** 3;
const CHUNK = 1024 * 1024;

/** A 1 GiB blob through a gateway running as its own process: digests match, memory stays flat. */
describe('storage gateway with a 1 GiB blob', () => {
  let gateway: ServiceProcess;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-big-'));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    gateway = startServiceProcess('storage-gateway/main.js', {
      STORAGE_PORT: String(port),
      STORAGE_DIR: dir,
      STORAGE_MAX_BLOB_BYTES: String(2 * GIB),
      UPLET_API_KEYS: JSON.stringify(Object.values(TEST_KEYS)),
      UPLET_CAPABILITY_SECRET: TEST_CAPABILITY_SECRET,
    });
    await waitForHttp(`${url}/healthz`);
  });
  afterAll(async () => {
    await gateway.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('uploads and downloads with matching sha256 while the gateway stays under 150 MB resident', async () => {
    const base = crypto.randomBytes(CHUNK);
    const sent = crypto.createHash('sha256');
    let i = 0;
    // Generated on the fly: a different first 8 bytes per chunk, so no two chunks are equal.
    const source = new Readable({
      read() {
        if (i === GIB / CHUNK) return void this.push(null);
        const chunk = Buffer.from(base);
        chunk.writeBigUInt64BE(BigInt(i++));
        sent.update(chunk);
        this.push(chunk);
      },
    });
    const t0 = Date.now();
    const uploaded = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        `${url}/blobs/model/big-model`,
        {
          method: 'PUT',
          headers: {
            'x-api-key': TEST_KEYS.compute.key,
            'content-length': String(GIB),
            // A model is written only under its task's lease: the capability a claim would issue.
            'x-uplet-capability': signCapability(
              {
                sub: TEST_KEYS.compute.name,
                uplet: 'u',
                kind: 'learnuplet',
                attempt: 1,
                blobs: [],
                writes: ['model/big-model'],
                exp: Math.floor(Date.now() / 1000) + 3600,
              },
              TEST_CAPABILITY_SECRET,
            ),
          },
        },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      source.pipe(req);
    });
    const uploadSeconds = (Date.now() - t0) / 1000;
    expect(uploaded.status).toBe(201);
    const digest = sent.digest('hex');
    expect(JSON.parse(uploaded.body)).toMatchObject({ size: GIB, sha256: digest });
    const afterUpload = gateway.peakRssBytes();

    const t1 = Date.now();
    const received = crypto.createHash('sha256');
    let bytes = 0;
    await new Promise<void>((resolve, reject) => {
      http
        .get(`${url}/blobs/model/big-model`, { headers: { 'x-api-key': TEST_KEYS.compute.key } }, (res) => {
          expect(res.headers.etag).toBe(`"${digest}"`);
          res.on('data', (d: Buffer) => {
            bytes += d.length;
            received.update(d);
          });
          res.on('end', resolve);
          res.on('error', reject);
        })
        .on('error', reject);
    });
    const downloadSeconds = (Date.now() - t1) / 1000;
    expect(bytes).toBe(GIB);
    expect(received.digest('hex')).toBe(digest);
    const peak = gateway.peakRssBytes();
    process.stderr.write(
      `1 GiB blob: upload ${uploadSeconds.toFixed(1)} s (${(1024 / uploadSeconds).toFixed(0)} MB/s), download ${downloadSeconds.toFixed(1)} s (${(1024 / downloadSeconds).toFixed(0)} MB/s); gateway peak RSS ${(afterUpload / 1e6).toFixed(0)} MB after upload, ${(peak / 1e6).toFixed(0)} MB after download\n`,
    );
    expect(peak).toBeLessThan(150 * 1e6);
  }, 180_000);
});
