import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobKind, BlobMeta } from '../contracts/blob-contract';
import { CAPABILITY_HEADER } from '../auth/capability-token';
import { UpletApiError } from './api-error';
import { DEFAULT_RETRY, parseJsonText, readAnswerText, RetryableHttpError, withRetry, type RetryPolicy } from './http-retry';

export type { BlobKind } from '../contracts/blob-contract';
export type BlobMetadata = BlobMeta;

/** A refusal by the gateway (4xx), with its stable code; not retried. */
export class StorageRequestError extends UpletApiError {
  constructor(message: string, status: number, code: string, details?: unknown) {
    super(message, status, code, details);
    this.name = 'StorageRequestError';
  }
}

export class DigestMismatchError extends Error {
  readonly code = 'DIGEST_MISMATCH';
}

export interface UploadOptions {
  contentType?: string;
  /** Principals besides compute nodes who may read it (a prediction's requester). */
  readers?: string[];
  /** Called as bytes leave (sent so far, total); a retried upload starts again from 0. */
  onProgress?: (sent: number, total: number) => void;
}

/**
 * The storage gateway's typed client: streams in and out (never a whole blob in
 * memory), retries what is safe to repeat (uploads under a uuid are idempotent
 * for identical content), resumes downloads with Range, and checks every
 * downloaded byte against the blob's sha256.
 */
export class StorageClient {
  private readonly retry: RetryPolicy;

  constructor(
    private readonly options: {
      baseUrl: string;
      apiKey: string;
      retry?: Partial<RetryPolicy>;
      capability?: string | (() => string | undefined);
      /** Where blobs are read from (`<kind>/<uuid>` → gateway base URL, from the claim answer); others, and every upload, at `baseUrl`. */
      locations?: Readonly<Record<string, string>>;
    },
  ) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /**
   * The same client, presenting a task's capability (needed to read data blobs
   * and to write the task's outputs). A function is asked at each request, so a
   * capability renewed by a heartbeat is used from then on, retries included.
   */
  withCapability(capability: string | (() => string | undefined)): StorageClient {
    return new StorageClient({ ...this.options, capability });
  }

  /**
   * The same client, reading each blob from the gateway that holds it (a task's data at its own
   * site, a model or an algo wherever it was written), with the same digest checks and retries.
   */
  withLocations(locations: Readonly<Record<string, string>>): StorageClient {
    return new StorageClient({ ...this.options, locations });
  }

  /** Uploads a file; its sha256, computed as it is sent, follows as a trailer, so the gateway refuses a corrupted transfer. */
  async uploadFile(kind: BlobKind, uuid: string, file: string, options: UploadOptions = {}): Promise<BlobMetadata> {
    const size = (await fs.promises.stat(file)).size;
    return withRetry(this.retry, async () => {
      // The digest of the bytes sent, computed as they go and sent as a trailer: the file is read
      // once, and the gateway still refuses a body that differs from what was read here.
      const hash = crypto.createHash('sha256');
      const hashing = new Transform({
        highWaterMark: CHUNK,
        transform(chunk: Buffer, _e, done: TransformCallback) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      const source = fs.createReadStream(file, { highWaterMark: CHUNK });
      source.on('error', (err) => hashing.destroy(err));
      // A failed attempt closes its file now rather than leaving the descriptor to the garbage collector.
      const res = await streamRequest(
        'PUT',
        this.url(kind, uuid),
        {
          ...this.auth(),
          'content-type': options.contentType ?? 'application/octet-stream',
          trailer: 'X-Content-SHA256',
          ...(options.readers?.length ? { 'x-uplet-readers': options.readers.join(',') } : {}),
        },
        withProgress(source.pipe(hashing), size, options.onProgress),
        () => ({ 'X-Content-SHA256': hash.digest('hex') }),
      ).finally(() => source.destroy());
      return (await this.json(res, `upload ${kind} ${uuid}`)) as BlobMetadata;
    });
  }

  async meta(kind: BlobKind, uuid: string): Promise<BlobMetadata> {
    return withRetry(
      this.retry,
      async () => (await this.json(await streamRequest('GET', `${this.readUrl(kind, uuid)}/meta`, this.auth()), `meta ${kind} ${uuid}`)) as BlobMetadata,
    );
  }

  /**
   * Downloads into `dest` (written to `dest.part`, renamed when complete and
   * verified). A dropped connection resumes where it stopped. Returns the blob's metadata.
   */
  async downloadToFile(kind: BlobKind, uuid: string, dest: string): Promise<BlobMetadata> {
    const meta = await this.meta(kind, uuid);
    await this.download(kind, uuid, dest, meta);
    return meta;
  }

  /**
   * Downloads into `dest` like downloadToFile, checked against the sha256 and size the
   * gateway sends with the blob (X-Content-SHA256, Content-Length) instead of a separate
   * metadata request first: one round trip per blob where a task needs no more than the bytes.
   */
  async fetchToFile(kind: BlobKind, uuid: string, dest: string): Promise<{ sha256: string; size: number }> {
    return this.download(kind, uuid, dest);
  }

  /** The transfer itself; `expected` (else the first answer's headers) is what the bytes on disk must match. */
  private async download(kind: BlobKind, uuid: string, dest: string, expected?: { sha256: string; size: number }): Promise<{ sha256: string; size: number }> {
    let want = expected;
    const part = `${dest}.part`;
    await fs.promises.mkdir(path.dirname(dest), { recursive: true });
    await fs.promises.rm(part, { force: true });
    // Hashed on the way to the disk; after a broken transfer the file is hashed again whole instead.
    const inline = crypto.createHash('sha256');
    let broken = false;
    try {
      await withRetry(this.retry, async () => {
        // Resume from what actually reached the disk, not from what was received.
        const started = fs.existsSync(part);
        const onDisk = started ? (await fs.promises.stat(part)).size : 0;
        if (want && started && onDisk >= want.size) return;
        const res = await streamRequest('GET', this.readUrl(kind, uuid), {
          ...this.auth(),
          ...(onDisk > 0 && want ? { range: `bytes=${onDisk}-`, 'if-range': `"${want.sha256}"` } : {}),
        });
        if (onDisk > 0 && res.statusCode !== 206) {
          res.resume();
          await fs.promises.rm(part, { force: true });
          throw new RetryableHttpError(`resume of ${kind} ${uuid} was not honoured (status ${res.statusCode}); starting over`);
        }
        if ((res.statusCode ?? 0) >= 300) await this.json(res, `download ${kind} ${uuid}`);
        want ??= announcedDigest(res, `${kind} ${uuid}`);
        const hashing = new Transform({
          transform(chunk: Buffer, _e, done: TransformCallback) {
            if (!broken) inline.update(chunk);
            done(null, chunk);
          },
        });
        try {
          await pipeline(res, hashing, fs.createWriteStream(part, { flags: 'a', mode: 0o600, highWaterMark: CHUNK }));
        } catch (err) {
          broken = true;
          throw new RetryableHttpError(`download of ${kind} ${uuid} broke off: ${(err as Error).message}`);
        }
      });
      const digest = broken ? await sha256OfFile(part) : inline.digest('hex');
      const size = (await fs.promises.stat(part)).size;
      if (!want || size !== want.size || digest !== want.sha256) {
        throw new DigestMismatchError(`downloaded ${kind} ${uuid} has sha256 ${digest} (${size} bytes), expected ${want?.sha256} (${want?.size} bytes)`);
      }
      await fs.promises.rename(part, dest);
      return want;
    } finally {
      await fs.promises.rm(part, { force: true });
    }
  }

  private readUrl(kind: BlobKind, uuid: string): string {
    const at = this.options.locations?.[`${kind}/${uuid}`];
    return at ? `${at.replace(/\/+$/, '')}/blobs/${kind}/${encodeURIComponent(uuid)}` : this.url(kind, uuid);
  }

  private url(kind: BlobKind, uuid: string): string {
    return `${this.options.baseUrl}/blobs/${kind}/${encodeURIComponent(uuid)}`;
  }

  private auth(): Record<string, string> {
    const c = this.options.capability;
    const capability = typeof c === 'function' ? c() : c;
    return { 'x-api-key': this.options.apiKey, ...(capability ? { [CAPABILITY_HEADER]: capability } : {}) };
  }

  /** Reads a JSON answer whole; a 4xx becomes a StorageRequestError with the gateway's code, a 5xx or a broken answer is retryable. */
  private async json(res: http.IncomingMessage, what: string): Promise<unknown> {
    return parseJsonText(
      res.statusCode ?? 500,
      await readAnswerText(res, `storage gateway: ${what}`),
      `storage gateway: ${what}`,
      (message, status, code, details) => new StorageRequestError(message, status, code, details),
    );
  }
}

/**
 * The sha256 and size a blob's first answer announces (X-Content-SHA256, and Content-Length or
 * the total of Content-Range); without them the bytes cannot be checked, so the download fails.
 */
function announcedDigest(res: http.IncomingMessage, what: string): { sha256: string; size: number } {
  const sha256 = res.headers['x-content-sha256'];
  const total = /\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''))?.[1] ?? res.headers['content-length'];
  const size = Number(total);
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256) || total === undefined || !Number.isSafeInteger(size) || size < 0) {
    res.resume();
    throw new DigestMismatchError(`download of ${what}: the gateway sent no X-Content-SHA256 and size to check the bytes against`);
  }
  return { sha256, size };
}

/** Large transfers move in 1 MiB chunks: fewer, bigger writes and hash updates. */
const CHUNK = 1024 * 1024;

/**
 * A streamed request with node:http (bodies are Node streams end to end: no
 * conversion to web streams on a hot path). Resolves with the response head.
 */
/** `trailers`, when given, are sent after the body (which then goes chunked); they are asked for once it has all been read. */
function streamRequest(
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Readable,
  trailers?: () => Record<string, string>,
): Promise<http.IncomingMessage> {
  const u = new URL(url);
  const transport = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(u, { method, headers }, resolve);
    req.on('error', (err) => reject(new RetryableHttpError(`${method} ${u.pathname}: ${err.message}`)));
    if (body && trailers) {
      body.on('error', (err) => req.destroy(err));
      body.on('end', () => {
        req.addTrailers(trailers());
        req.end();
      });
      body.pipe(req, { end: false });
    } else if (body) {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    } else {
      req.end();
    }
  });
}

function withProgress(source: Readable, total: number, onProgress?: (sent: number, total: number) => void): Readable {
  if (!onProgress) return source;
  let sent = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _e, done: TransformCallback) {
      sent += chunk.length;
      onProgress(sent, total);
      done(null, chunk);
    },
  });
  source.on('error', (err) => counting.destroy(err));
  return source.pipe(counting);
}

export async function sha256OfFile(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}
