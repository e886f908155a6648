import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { freePort } from '../../standalone/local-db/ferretdb-process';
import { StorageClient } from '../../shared/http/storage-client';

export interface StorageResult {
  megabytes: number;
  upletUploadMBps: number;
  upletDownloadMBps: number;
  gatewayPeakRssMB: number;
  copyMBps: number;
  plainHttpUploadMBps: number;
  plainHttpDownloadMBps: number;
  plainHttpPeakRssMB: number;
}

const KEYS = [{ name: 'bench-admin', key: 'bench-admin-key-00000000', roles: ['admin'] }];

/**
 * A blob through the storage gateway (a process of its own: its peak RSS is
 * read from /proc) with the typed client, against `cp` of the same file on the
 * same disk and a plain Node HTTP stream of it on loopback (also its own process).
 */
export async function benchStorage(megabytes: number, repoRoot: string): Promise<StorageResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-bench-storage-'));
  try {
    const src = path.join(dir, 'blob.bin');
    await writeFile(src, megabytes);
    const mb = (ms: number) => megabytes / (ms / 1000);

    let t = performance.now();
    execFileSync('cp', [src, path.join(dir, 'copy.bin')]);
    const copyMBps = mb(performance.now() - t);
    fs.rmSync(path.join(dir, 'copy.bin'));

    // uplet: the gateway process and the typed client (digest computed before the upload, checked after the download).
    // An algo archive: model and prediction blobs are written only under a task's lease.
    const port = await freePort();
    const gateway = spawnNode(path.join(repoRoot, 'dist/storage-gateway/main.js'), {
      STORAGE_PORT: String(port),
      STORAGE_DIR: path.join(dir, 'blobs'),
      UPLET_API_KEYS: JSON.stringify(KEYS),
      UPLET_CAPABILITY_SECRET: crypto.randomBytes(24).toString('hex'),
      STORAGE_MAX_BLOB_BYTES: String(4 * 1024 ** 3),
    });
    let upletUploadMBps: number;
    let upletDownloadMBps: number;
    let gatewayPeakRssMB: number;
    try {
      await waitHttp(`http://127.0.0.1:${port}/healthz`);
      const client = new StorageClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEYS[0]!.key });
      t = performance.now();
      await client.uploadFile('algo', 'bench-blob', src);
      upletUploadMBps = mb(performance.now() - t);
      t = performance.now();
      await client.downloadToFile('algo', 'bench-blob', path.join(dir, 'down.bin'));
      upletDownloadMBps = mb(performance.now() - t);
      gatewayPeakRssMB = peakRss(gateway.pid!);
      fs.rmSync(path.join(dir, 'down.bin'));
      fs.rmSync(path.join(dir, 'blobs'), { recursive: true, force: true });
    } finally {
      gateway.kill('SIGKILL');
    }

    // Baseline: a plain Node HTTP server streaming to and from a file, in its own process.
    const plainPort = await freePort();
    const plain = spawnNode('-e', { PORT: String(plainPort), FILE: path.join(dir, 'plain.bin') }, PLAIN_SERVER);
    let plainHttpUploadMBps: number;
    let plainHttpDownloadMBps: number;
    let plainHttpPeakRssMB: number;
    try {
      await waitHttp(`http://127.0.0.1:${plainPort}/`);
      t = performance.now();
      await new Promise<void>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: plainPort, method: 'PUT', path: '/' }, (res) => res.resume().on('end', resolve));
        req.on('error', reject);
        fs.createReadStream(src).pipe(req);
      });
      plainHttpUploadMBps = mb(performance.now() - t);
      t = performance.now();
      await new Promise<void>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: plainPort, path: '/' }, (res) => {
            pipeline(res, fs.createWriteStream(path.join(dir, 'plain-down.bin'))).then(resolve, reject);
          })
          .on('error', reject);
      });
      plainHttpDownloadMBps = mb(performance.now() - t);
      plainHttpPeakRssMB = peakRss(plain.pid!);
    } finally {
      plain.kill('SIGKILL');
    }
    return { megabytes, upletUploadMBps, upletDownloadMBps, gatewayPeakRssMB, copyMBps, plainHttpUploadMBps, plainHttpDownloadMBps, plainHttpPeakRssMB };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const PLAIN_SERVER = `
const http = require('http'); const fs = require('fs');
http.createServer((req, res) => {
  if (req.method === 'PUT') { req.pipe(fs.createWriteStream(process.env.FILE)).on('finish', () => res.end('ok')); return; }
  if (req.url === '/' && req.method === 'GET' && fs.existsSync(process.env.FILE)) { res.setHeader('content-length', fs.statSync(process.env.FILE).size); fs.createReadStream(process.env.FILE).pipe(res); return; }
  res.end('ready');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

function spawnNode(script: string, env: Record<string, string>, code?: string) {
  const args = code ? ['-e', code] : [script];
  return spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env }, stdio: 'ignore' });
}

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not come up`);
}

/** A file of pseudo-random bytes (a random megabyte, varied per megabyte). */
async function writeFile(file: string, megabytes: number): Promise<void> {
  const base = crypto.randomBytes(1024 * 1024);
  const out = fs.createWriteStream(file);
  for (let i = 0; i < megabytes; i++) {
    const chunk = Buffer.from(base);
    chunk.writeUInt32BE(i);
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}
