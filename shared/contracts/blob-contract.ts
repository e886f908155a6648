/** What the storage gateway and its clients agree on about blobs. */
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
