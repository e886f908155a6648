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
 *
 * Nothing is orphaned: commits of one uuid are serialised (a loser of an upload race
 * finds the winner's metadata and never moves its content in), and the content
 * rename and metadata link of one sha256 are serialised with the orphan sweep. One
 * gateway process owns a directory.
 */
export class FilesystemBlobStore implements BlobStore {
  private readonly tmpDir: string;
  private readonly locks = new KeyedLock();
  /** sha256s committed while a sweep runs: its scan of the metadata may have missed them. */
  private committedDuringSweep: Set<string> | undefined;

  /** Write-backs started while blobs were still arriving (see EarlyFlush), since start-up. */
  earlyFlushes = 0;

  /**
   * `earlyFlushBytes`: every so many bytes of an upload, its write-back to the disk is started
   * while the rest still arrives (EarlyFlush); the default suits blobs of hundreds of MB.
   */
  constructor(
    private readonly root: string,
    private readonly earlyFlushBytes: number = EARLY_FLUSH_BYTES,
  ) {
    this.tmpDir = path.join(root, 'tmp');
    fs.mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    // Leftovers of uploads cut off by a crash are never visible; remove them.
    for (const f of fs.readdirSync(this.tmpDir)) fs.rmSync(path.join(this.tmpDir, f), { force: true });
  }

  async put(kind: BlobKind, uuid: string, body: Readable, options: PutOptions): Promise<PutResult> {
    // `moved` once renamed into place: nothing is left to remove then.
    const tmp = { path: path.join(this.tmpDir, `${crypto.randomUUID()}.part`), moved: false };
    const flusher = new EarlyFlush(tmp.path, this.earlyFlushBytes);
    const hasher = new HashAndLimit(options.maxBytes, (bytes) => flusher.wrote(bytes));
    try {
      const out = fs.createWriteStream(tmp.path, { flags: 'wx', mode: 0o600, highWaterMark: CHUNK });
      await pipeline(body, hasher, out);
      // Through a second descriptor: a stream on a kept FileHandle never resolves pipeline() in Node 20.
      await flusher.sync();
      this.earlyFlushes += flusher.started;
      const sha256 = hasher.digest();
      const expected = typeof options.expectedSha256 === 'function' ? options.expectedSha256() : options.expectedSha256;
      if (expected && expected.toLowerCase() !== sha256) {
        throw new UnprocessableError(`content sha256 ${sha256} does not match the expected ${expected}; nothing was stored`, {
          code: 'DIGEST_MISMATCH',
          details: { where: 'header', field: 'x-content-sha256' },
        });
      }
      return await this.locks.run(`meta/${kind}/${uuid}`, async () => {
        const existing = await this.stat(kind, uuid);
        if (existing) return this.sameOrConflict(existing, kind, sha256);
        return this.locks.run(`content/${sha256}`, () => this.commit(kind, uuid, tmp, sha256, hasher.bytes, options));
      });
    } finally {
      // The blob's fate is decided above (fsynced, or failed): a descriptor that will not close changes neither.
      await flusher.close().catch(() => undefined);
      if (!tmp.moved) await fs.promises.rm(tmp.path, { force: true });
    }
  }

  /** Moves the content in and links the metadata; the caller holds the uuid's and the content's locks. */
  private async commit(
    kind: BlobKind,
    uuid: string,
    tmp: { path: string; moved: boolean },
    sha256: string,
    size: number,
    options: PutOptions,
  ): Promise<PutResult> {
    const contentPath = this.contentPath(sha256);
    await fs.promises.mkdir(path.dirname(contentPath), { recursive: true });
    // Same sha256, same bytes: replacing an existing content file changes nothing.
    await fs.promises.rename(tmp.path, contentPath);
    tmp.moved = true;
    this.committedDuringSweep?.add(sha256);
    const meta: BlobMeta = {
      uuid,
      kind,
      size,
      sha256,
      owner: options.owner,
      content_type: options.contentType,
      created: new Date().toISOString(),
      readers: options.readers,
      ...(options.writtenUnder ? { written_under: options.writtenUnder } : {}),
    };
    const metaPath = this.metaPath(kind, uuid);
    const metaTmp = path.join(this.tmpDir, `${crypto.randomUUID()}.meta`);
    const writeMeta = async () => {
      await fs.promises.mkdir(path.dirname(metaPath), { recursive: true });
      // Written and fsynced through one descriptor: no second open for the fsync.
      const metaFile = await fs.promises.open(metaTmp, 'wx', 0o600);
      try {
        await metaFile.writeFile(JSON.stringify(meta));
        await metaFile.sync();
      } finally {
        await metaFile.close();
      }
    };
    // The content's rename is made durable before the metadata that points at it is linked: a crash
    // must not leave metadata whose content vanished with an unsynced directory.
    await Promise.all([fsyncDir(path.dirname(contentPath)), writeMeta()]);
    try {
      await fs.promises.link(metaTmp, metaPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process sharing the directory committed this uuid first (in this one, commits of
      // a uuid are serialised); the start-up sweep removes our content if nothing links it.
      const winner = await this.stat(kind, uuid);
      if (!winner) throw err;
      return this.sameOrConflict(winner, kind, sha256);
    } finally {
      await fs.promises.rm(metaTmp, { force: true });
    }
    await fsyncDir(path.dirname(metaPath));
    return { meta, created: true };
  }

  /**
   * Removes content files that no metadata links to and that are older than `graceMs`:
   * what a crash between the content rename and the metadata link leaves (or another
   * process sharing the directory, which the grace period protects). Runs beside uploads.
   */
  async sweepOrphans(graceMs: number): Promise<{ removed: number; bytes: number }> {
    this.committedDuringSweep = new Set();
    try {
      const linked = new Set<string>();
      for (const file of await walk(path.join(this.root, 'meta'))) {
        if (!file.endsWith('.json')) continue;
        try {
          linked.add((JSON.parse(await fs.promises.readFile(file, 'utf8')) as BlobMeta).sha256);
        } catch {
          /* unreadable or vanished: it links nothing we could keep */
        }
      }
      let removed = 0;
      let bytes = 0;
      for (const file of await walk(path.join(this.root, 'content'))) {
        const sha256 = path.basename(file);
        if (linked.has(sha256) || file !== this.contentPath(sha256)) continue;
        await this.locks.run(`content/${sha256}`, async () => {
          if (this.committedDuringSweep!.has(sha256)) return;
          const st = await fs.promises.stat(file).catch(() => undefined);
          if (!st || Date.now() - st.mtimeMs < graceMs) return;
          await fs.promises.rm(file, { force: true });
          removed++;
          bytes += st.size;
        });
      }
      return { removed, bytes };
    } finally {
      this.committedDuringSweep = undefined;
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
    throw new ConflictError(`${kind} ${existing.uuid} already exists with other content; blobs are immutable`, {
      code: 'BLOB_EXISTS',
      details: { where: 'path', field: 'uuid' },
    });
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

/**
 * An upload's data reaches the disk before its fsync, not in it. The kernel starts writing dirty
 * pages back only past `dirty_background_ratio` of memory (2.4 GB on a 24 GB machine) or after
 * 30 s, so a 1 GiB upload left all its writing to the final fsync (0.37 s here, a tenth of the
 * upload), while the disk sat idle as the bytes arrived. Every `every` bytes an fdatasync is
 * started on a second descriptor (at most one at a time, never awaited by the stream); the final
 * fsync, through the same descriptor, then has little left and is still what makes the blob durable
 * (an early write-back's error fails it: the kernel reports such an error once).
 */
export class EarlyFlush {
  private handle: Promise<fs.promises.FileHandle> | undefined;
  private running: Promise<void> | undefined;
  private failure: Error | undefined;
  private next: number;
  /** Early write-backs started. */
  started = 0;

  constructor(
    private readonly file: string,
    private readonly every: number,
  ) {
    this.next = every;
  }

  /** `bytes` have passed towards the file so far. */
  wrote(bytes: number): void {
    if (bytes < this.next || this.running) return;
    this.next = bytes + this.every;
    this.started++;
    this.running = this.open()
      .then(
        // Linux reports a write-back error once per open file: an fdatasync that saw it leaves the
        // final fsync nothing to report, so the error is kept for the final sync to throw.
        (fh) => fh.datasync().catch((err: Error) => void (this.failure ??= err)),
        // The file is not there yet (the write stream creates it): the next write-back or the final sync opens it.
        () => undefined,
      )
      .finally(() => (this.running = undefined));
  }

  /** The final fsync of everything written; throws what an early write-back met. */
  async sync(): Promise<void> {
    await this.running;
    if (this.failure) throw this.failure;
    await (await this.open()).sync();
  }

  async close(): Promise<void> {
    await this.running;
    const handle = this.handle;
    this.handle = undefined;
    if (handle) await (await handle.catch(() => undefined))?.close();
  }

  /** A failed open is not kept: an early write-back can come before the write stream has created the file. */
  private open(): Promise<fs.promises.FileHandle> {
    if (!this.handle) {
      const opening = fs.promises.open(this.file, 'r+');
      this.handle = opening;
      opening.catch(() => {
        if (this.handle === opening) this.handle = undefined;
      });
    }
    return this.handle;
  }
}

/** Every 64 MiB of an upload, its write-back starts (EarlyFlush). */
const EARLY_FLUSH_BYTES = 64 * 1024 * 1024;

/** Counts, limits and hashes the bytes passing through, never holding more than one chunk. */
class HashAndLimit extends Transform {
  private readonly hash = crypto.createHash('sha256');
  bytes = 0;

  constructor(
    private readonly maxBytes: number,
    /** Told the running count of bytes after each chunk. */
    private readonly onBytes: (bytes: number) => void,
  ) {
    super({ highWaterMark: CHUNK });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes)
      return done(new PayloadTooLargeError(`the blob is larger than the limit of ${this.maxBytes} bytes`, { details: { where: 'body' } }));
    this.hash.update(chunk);
    this.onBytes(this.bytes);
    done(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
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

/** Every file under a directory (none if it does not exist). */
async function walk(dir: string): Promise<string[]> {
  const entries = await fs.promises.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Runs async sections one at a time per key, in arrival order; keys are dropped when idle. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const mine = previous.then(section, section);
    const tail = mine.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
