/**
 * Profile of a storage upload (issue 22): the typed client's upload, the client's hash of the file
 * alone, a bare PUT to the same gateway and a PUT to a plain Node server, side by side, and the
 * gateway's peak RSS. PROF=<dir> writes the gateway's CPU profile there. `npm run build && npx tsc -p
 * tsconfig.bench.json && MB=256 ROUNDS=3 node dist/test/bench/profiles/profile-upload.js`.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../standalone/local-db/ferretdb-process';
import { StorageClient, sha256OfFile } from '../../../shared/http/storage-client';
import http from 'node:http';

const KEYS = [{ name: 'bench-admin', key: 'bench-admin-key-00000000', roles: ['admin'] }];
async function main() {
  const mb = Number(process.env.MB ?? 256);
  const repo = process.env.REPO ?? process.cwd();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbperf-up-'));
  const src = path.join(dir, 'src.bin');
  const base = crypto.randomBytes(1 << 20);
  const fd = fs.openSync(src, 'w');
  for (let i = 0; i < mb; i++) {
    base.writeUInt32BE(i);
    fs.writeSync(fd, base);
  }
  fs.closeSync(fd);
  const port = await freePort();
  const extra = process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROF}`] : [];
  const gw = spawn(process.execPath, [...extra, path.join(repo, 'dist/storage-gateway/main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      LOG_LEVEL: 'warn',
      STORAGE_PORT: String(port),
      STORAGE_DIR: path.join(dir, 'blobs'),
      UPLET_API_KEYS: JSON.stringify(KEYS),
      UPLET_CAPABILITY_SECRET: 'x'.repeat(48),
      STORAGE_MAX_BLOB_BYTES: String(4 * 1024 ** 3),
    },
    stdio: 'inherit',
  });
  for (;;) {
    try {
      await (await fetch(`http://127.0.0.1:${port}/healthz`)).arrayBuffer();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const plainPort = await freePort();
  const plain = spawn(
    process.execPath,
    [
      '-e',
      `
const http = require('http'); const fs = require('fs');
http.createServer((req, res) => {
  if (req.method === 'PUT') { req.pipe(fs.createWriteStream(process.env.FILE)).on('finish', () => res.end('ok')); return; }
  res.end('ready');
}).listen(Number(process.env.PORT), '127.0.0.1');`,
    ],
    { env: { PORT: String(plainPort), FILE: path.join(dir, 'plain.bin') }, stdio: 'inherit' },
  );
  for (;;) {
    try {
      await (await fetch(`http://127.0.0.1:${plainPort}/`)).arrayBuffer();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const client = new StorageClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEYS[0]!.key });
  for (let i = 0; i < Number(process.env.ROUNDS ?? 3); i++) {
    const t = performance.now();
    await client.uploadFile('algo', `b${i}`, src);
    console.log(`upload ${i}: ${(mb / ((performance.now() - t) / 1000)).toFixed(0)} MB/s`);
    let t2 = performance.now();
    await sha256OfFile(src);
    const hashMs = performance.now() - t2;
    t2 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, method: 'PUT', path: `/blobs/algo/raw${i}`, headers: { 'x-api-key': KEYS[0]!.key, 'content-length': String(mb << 20) } },
        (res) => res.resume().on('end', resolve),
      );
      req.on('error', reject);
      fs.createReadStream(src, { highWaterMark: 1 << 20 }).pipe(req);
    });
    const putMs = performance.now() - t2;
    t2 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: plainPort, method: 'PUT', path: '/' }, (res) => res.resume().on('end', resolve));
      req.on('error', reject);
      fs.createReadStream(src).pipe(req);
    });
    const plainMs = performance.now() - t2;
    console.log(
      `  client pre-hash ${hashMs.toFixed(0)} ms, bare PUT to the gateway ${putMs.toFixed(0)} ms, plain server PUT ${plainMs.toFixed(0)} ms (${(mb / (plainMs / 1000)).toFixed(0)} MB/s)`,
    );
  }
  const rss = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${gw.pid}/status`, 'utf8'));
  console.log(`gateway peak RSS ${Number(rss![1]) / 1024} MB`);
  plain.kill();
  gw.kill('SIGINT');
  await new Promise((r) => gw.on('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
}
void main();
