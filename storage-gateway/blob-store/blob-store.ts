import type { Readable } from 'node:stream';

export const BLOB_KINDS = ['data', 'algo', 'workflow', 'model', 'prediction'] as const;
export type BlobKind = (typeof BLOB_KINDS)[number];

export interface BlobMeta {
  uuid: string;
  kind: BlobKind;
  size: number;
  sha256: string;
  owner: string;
  content_type: string;
  created: string;
  /** Principals allowed to read it besides compute nodes (the requester of a prediction). */
  readers: string[];
}

export interface PutOptions {
  owner: string;
  contentType: string;
  readers: string[];
  /** The digest the client expects; a mismatch stores nothing. */
  expectedSha256?: string;
  maxBytes: number;
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
