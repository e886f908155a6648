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
  /**
   * The lease a task output (model, prediction) was written under, from the
   * capability that authorised the write; absent for other kinds, and for
   * outputs stored before writes were gated (never adopted by an agent).
   */
  written_under?: WrittenUnder;
}

export interface WrittenUnder {
  kind: string;
  uplet: string;
  attempt: number;
  principal: string;
}

/** Kinds that are task outputs: written only with the capability of a lease of the task that produces them. */
export const OUTPUT_KINDS: readonly BlobKind[] = ['model', 'prediction'];

/**
 * Where attempt n of a preduplet stores its predictions: one blob per attempt,
 * so the uuid reported in /preddone is always the one written under that lease.
 */
export function predictionBlobUuid(preduplet: string, attempt: number): string {
  return `prediction-${preduplet}-${attempt}`;
}

/**
 * Where attempt n of a training-engine task (trial, final, teach) stores an output: a `model`
 * blob, one per attempt and output, written only under that attempt's lease.
 */
export function engineOutputUuid(task: string, attempt: number, output: 'model' | 'oof' | 'targets'): string {
  return `${task}-a${attempt}-${output}`;
}

/**
 * Where attempt n of a `synthesize` task stores its CSV: the one `data` blob a compute node may
 * write, and only under that attempt's lease (the gateway checks the capability's `writes`).
 */
export function synthDataUuid(task: string, attempt: number): string {
  return `${task}-a${attempt}-data`;
}
