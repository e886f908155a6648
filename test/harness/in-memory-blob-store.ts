import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { ConflictError, PayloadTooLargeError, UnprocessableError } from '../../shared/errors/uplet-error';
import type { BlobKind, BlobMeta, BlobStore, ByteRange, PutOptions, PutResult } from '../../storage-gateway/blob-store/blob-store';

/**
 * A second BlobStore, in memory, for tests: it shows the conformance suite
 * (blob-store-conformance.ts) holds any store to the contract rather than to the
 * filesystem store's layout. Content is kept once per sha256, metadata per kind and uuid.
 */
export class InMemoryBlobStore implements BlobStore {
  private readonly metas = new Map<string, BlobMeta>();
  private readonly contents = new Map<string, Buffer>();

  async put(kind: BlobKind, uuid: string, body: Readable, options: PutOptions): Promise<PutResult> {
    const chunks: Buffer[] = [];
    let size = 0;
    const hash = crypto.createHash('sha256');
    for await (const chunk of body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
      size += buffer.length;
      if (size > options.maxBytes) {
        body.destroy();
        throw new PayloadTooLargeError(`the blob is larger than the limit of ${options.maxBytes} bytes`, { details: { where: 'body' } });
      }
      hash.update(buffer);
      chunks.push(buffer);
    }
    const sha256 = hash.digest('hex');
    const expected = typeof options.expectedSha256 === 'function' ? options.expectedSha256() : options.expectedSha256;
    if (expected && expected.toLowerCase() !== sha256) {
      throw new UnprocessableError(`content sha256 ${sha256} does not match the expected ${expected}; nothing was stored`, {
        code: 'DIGEST_MISMATCH',
      });
    }
    // From here to the end nothing awaits, so the check and the commit cannot interleave with another put.
    const key = `${kind}/${uuid}`;
    const existing = this.metas.get(key);
    if (existing) {
      if (existing.sha256 === sha256) return { meta: existing, created: false };
      throw new ConflictError(`${kind} ${uuid} already exists with other content; blobs are immutable`, { code: 'BLOB_EXISTS' });
    }
    const meta: BlobMeta = {
      uuid,
      kind,
      size,
      sha256,
      owner: options.owner,
      content_type: options.contentType,
      created: new Date().toISOString(),
      readers: [...options.readers],
      ...(options.writtenUnder ? { written_under: options.writtenUnder } : {}),
    };
    this.contents.set(sha256, Buffer.concat(chunks));
    this.metas.set(key, meta);
    return { meta, created: true };
  }

  async stat(kind: BlobKind, uuid: string): Promise<BlobMeta | undefined> {
    return this.metas.get(`${kind}/${uuid}`);
  }

  open(meta: BlobMeta, range?: ByteRange): Readable {
    const content = this.contents.get(meta.sha256);
    if (!content) throw new Error(`no content ${meta.sha256}`);
    return Readable.from([range ? content.subarray(range.start, range.end + 1) : content]);
  }

  /** The sha256 of every content held, linked or not: the conformance suite checks none is orphaned. */
  storedContents(): string[] {
    return [...this.contents.keys()];
  }
}
