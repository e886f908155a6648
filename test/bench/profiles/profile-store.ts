/**
 * What a file copy costs with the gateway's extras (hash, fsync), without HTTP: `MB=256 node
 * dist/test/bench/profiles/profile-store.js` after `npx tsc -p tsconfig.bench.json`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

async function main() {
  const mb = Number(process.env.MB ?? 256);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbperf-store-'));
  const src = path.join(dir, 'src.bin');
  const base = crypto.randomBytes(1 << 20);
  const fd = fs.openSync(src, 'w');
  for (let i = 0; i < mb; i++) {
    base.writeUInt32BE(i);
    fs.writeSync(fd, base);
  }
  fs.closeSync(fd);
  const CH = 1 << 20;
  let t = performance.now();
  const h = crypto.createHash('sha256');
  for await (const c of fs.createReadStream(src, { highWaterMark: CH })) h.update(c as Buffer);
  console.log(`read+hash ${(mb / ((performance.now() - t) / 1000)).toFixed(0)} MB/s`);
  for (const variant of ['copy', 'copy+hash', 'copy+fsync', 'copy+hash+fsync']) {
    const out = path.join(dir, `out-${variant}.bin`);
    t = performance.now();
    const hh = crypto.createHash('sha256');
    await pipeline(
      fs.createReadStream(src, { highWaterMark: CH }),
      async function* (s) {
        for await (const c of s) {
          if (variant.includes('hash')) hh.update(c);
          yield c;
        }
      },
      fs.createWriteStream(out, { highWaterMark: CH }),
    );
    const tw = performance.now() - t;
    let tf = 0;
    if (variant.includes('fsync')) {
      const t2 = performance.now();
      const fh = await fs.promises.open(out, 'r+');
      await fh.sync();
      await fh.close();
      tf = performance.now() - t2;
    }
    console.log(`${variant}: ${(mb / ((performance.now() - t) / 1000)).toFixed(0)} MB/s (write ${tw.toFixed(0)} ms, fsync ${tf.toFixed(0)} ms)`);
    fs.rmSync(out);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}
void main();
