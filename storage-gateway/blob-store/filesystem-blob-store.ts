import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConflictError, PayloadTooLargeError, UnprocessableError } from '../../shared/errors/uplet-error';
import type { BlobKind, BlobMeta, BlobStore, ByteRange, PutOptions, PutResult } from './blob-store';

/**
 * Blobs on a local filesystem. Content is stored once per sha256 under
 * `content/ab/cd/<sha256>`; a uuid's metadata under `meta/<kind>/ef/gh/<uuid>.json`
 * (ef/gh from sha256(uuid)), so no directory holds millions of entries. The
 * metadata file is the commit point: it is created with link(2), which fails if
 * it exists, so a uuid is bound to one content exactly once.
 */
export class FilesystemBlobStore implements BlobStore {
  private readonly tmpDir: string;

  constructor(private readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    fs.mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    // Leftovers of uploads cut off by a crash are never visible; remove them.
    for (const f of fs.readdirSync(this.tmpDir)) fs.rmSync(path.join(this.tmpDir, f), { force: true });
  }

  async put(kind: BlobKind, uuid: string, body: Readable, options: PutOptions): Promise<PutResult> {
    const existing = await this.stat(kind, uuid);
    const tmp = path.join(this.tmpDir, `${crypto.randomUUID()}.part`);
    const hasher = new HashAndLimit(options.maxBytes);
    try {
      const out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600, highWaterMark: CHUNK });
      await pipeline(body, hasher, out);
      await fsyncFile(tmp);
      const sha256 = hasher.digest();
      if (options.expectedSha256 && options.expectedSha256.toLowerCase() !== sha256) {
        throw new UnprocessableError(`content sha256 ${sha256} does not match the expected ${options.expectedSha256}; nothing was stored`, { code: 'DIGEST_MISMATCH', details: { where: 'header', field: 'x-content-sha256' } });
      }
      if (existing) return this.sameOrConflict(existing, kind, sha256);

      const contentPath = this.contentPath(sha256);
      await fs.promises.mkdir(path.dirname(contentPath), { recursive: true });
      // Same sha256, same bytes: replacing an existing content file changes nothing.
      await fs.promises.rename(tmp, contentPath);
      const meta: BlobMeta = {
        uuid, kind, size: hasher.bytes, sha256, owner: options.owner, content_type: options.contentType,
        created: new Date().toISOString(), readers: options.readers, ...(options.writtenUnder ? { written_under: options.writtenUnder } : {}),
      };
      const metaPath = this.metaPath(kind, uuid);
      await fs.promises.mkdir(path.dirname(metaPath), { recursive: true });
      const metaTmp = path.join(this.tmpDir, `${crypto.randomUUID()}.meta`);
      await fs.promises.writeFile(metaTmp, JSON.stringify(meta), { mode: 0o600 });
      await fsyncFile(metaTmp);
      try {
        await fs.promises.link(metaTmp, metaPath);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A concurrent upload of the same uuid committed first.
        const winner = await this.stat(kind, uuid);
        if (!winner) throw err;
        return this.sameOrConflict(winner, kind, sha256);
      } finally {
        await fs.promises.rm(metaTmp, { force: true });
      }
      await fsyncDir(path.dirname(metaPath));
      return { meta, created: true };
    } finally {
      await fs.promises.rm(tmp, { force: true });
    }
  }

  async stat(kind: BlobKind, uuid: string): Promise<BlobMeta | undefined> {
    try {
      return JSON.parse(await fs.promises.readFile(this.metaPath(kind, uuid), 'utf8')) as BlobMeta;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  open(meta: BlobMeta, range?: ByteRange): Readable {
    return fs.createReadStream(this.contentPath(meta.sha256), { highWaterMark: CHUNK, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  private sameOrConflict(existing: BlobMeta, kind: BlobKind, sha256: string): PutResult {
    if (existing.kind === kind && existing.sha256 === sha256) return { meta: existing, created: false };
    throw new ConflictError(`${kind} ${existing.uuid} already exists with other content; blobs are immutable`, { code: 'BLOB_EXISTS', details: { where: 'path', field: 'uuid' } });
  }

  private contentPath(sha256: string): string {
    return path.join(this.root, 'content', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  private metaPath(kind: BlobKind, uuid: string): string {
    const h = crypto.createHash('sha256').update(uuid).digest('hex');
    return path.join(this.root, 'meta', kind, h.slice(0, 2), h.slice(2, 4), `${uuid}.json`);
  }
}

/** Blobs move in 1 MiB chunks: fewer, bigger writes and hash updates. */
const CHUNK = 1024 * 1024;

/** Counts, limits and hashes the bytes passing through, never holding more than one chunk. */
class HashAndLimit extends Transform {
  private readonly hash = crypto.createHash('sha256');
  bytes = 0;

  constructor(private readonly maxBytes: number) {
    super({ highWaterMark: CHUNK });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) return done(new PayloadTooLargeError(`the blob is larger than the limit of ${this.maxBytes} bytes`, { details: { where: 'body' } }));
    this.hash.update(chunk);
    done(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

async function fsyncFile(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    /* some filesystems refuse fsync on directories */
  } finally {
    await fh.close();
  }
}
