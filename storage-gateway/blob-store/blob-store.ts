import type { Readable } from 'node:stream';

import type { BlobKind, BlobMeta, WrittenUnder } from '../../shared/contracts/blob-contract';

export { BLOB_KINDS, OUTPUT_KINDS, type BlobKind, type BlobMeta, type WrittenUnder } from '../../shared/contracts/blob-contract';

export interface PutOptions {
  owner: string;
  contentType: string;
  readers: string[];
  /**
   * The digest the client expects; a mismatch stores nothing. A function is asked once the whole
   * body has arrived (a digest sent as an HTTP trailer, computed by the client as it sent); it may
   * throw to refuse the upload.
   */
  expectedSha256?: string | (() => string);
  maxBytes: number;
  /** The lease a task output is written under, recorded in its metadata. */
  writtenUnder?: WrittenUnder;
}

export interface PutResult {
  meta: BlobMeta;
  /** False when an identical blob was already stored under this uuid. */
  created: boolean;
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * Where blobs live. The filesystem implementation is the default; an object
 * store can implement the same three calls.
 */
export interface BlobStore {
  put(kind: BlobKind, uuid: string, body: Readable, options: PutOptions): Promise<PutResult>;
  stat(kind: BlobKind, uuid: string): Promise<BlobMeta | undefined>;
  open(meta: BlobMeta, range?: ByteRange): Readable;
}
