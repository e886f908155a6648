import type { Principal, Role } from '../../shared/auth/api-keys';
import type { BlobKind, BlobMeta } from '../blob-store/blob-store';

export type BlobAction = 'upload' | 'read';

/**
 * Who may do what with which kind of blob. Data never leaves the node except
 * to compute: not to algo authors, not to its provider, not to admins.
 */
interface KindRules {
  upload: readonly Role[];
  /** Roles that may read every blob of the kind. */
  read: readonly Role[];
  /** Whether the uploader may read it back. */
  ownerReads: boolean;
  /** Whether the principals named in its `readers` may read it. */
  readersRead: boolean;
}

export const BLOB_RULES: Record<BlobKind, KindRules> = {
  data: { upload: ['data-provider', 'admin'], read: ['compute'], ownerReads: false, readersRead: false },
  algo: { upload: ['algo-author', 'admin'], read: ['compute', 'admin'], ownerReads: true, readersRead: false },
  workflow: { upload: ['organizer', 'admin'], read: ['compute', 'admin'], ownerReads: true, readersRead: false },
  model: { upload: ['compute', 'admin'], read: ['compute', 'admin'], ownerReads: false, readersRead: false },
  prediction: { upload: ['compute', 'admin'], read: ['compute', 'admin'], ownerReads: false, readersRead: true },
};

const holds = (p: Principal, roles: readonly Role[]) => roles.some((r) => p.roles.includes(r));

export function mayUpload(p: Principal, kind: BlobKind): boolean {
  return holds(p, BLOB_RULES[kind].upload);
}

/**
 * The one data blob a compute node may write: a `synthesize` task's CSV, and only with the
 * capability of that task's lease naming it in `writes` (checked like a model's or a prediction's).
 */
export function mayUploadUnderLease(p: Principal, kind: BlobKind): boolean {
  return kind === 'data' && p.roles.includes('compute') && !mayUpload(p, kind);
}

/** Whether any blob of the kind could be readable by this principal (decided before looking the blob up). */
export function mayEverRead(p: Principal, kind: BlobKind): boolean {
  const rules = BLOB_RULES[kind];
  return holds(p, rules.read) || rules.ownerReads || rules.readersRead;
}

export function mayRead(p: Principal, meta: BlobMeta): boolean {
  const rules = BLOB_RULES[meta.kind];
  return holds(p, rules.read) || (rules.ownerReads && meta.owner === p.name) || (rules.readersRead && meta.readers.includes(p.name));
}
