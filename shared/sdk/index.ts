/**
 * uplet's typed SDK: `import { UpletClient } from 'uplet/sdk'`.
 * One client for the orchestrator and the storage gateway, on the same HTTP
 * clients the compute agent uses.
 */
export { UpletClient, type UpletClientOptions, type WaitOptions } from './uplet-client';
export * from './types';
export * from './training-types';
export * from './errors';
export { OrchestratorClient } from '../http/orchestrator-client';
export { StorageClient, sha256OfFile, type UploadOptions } from '../http/storage-client';
export type { BlobKind, BlobMeta } from '../contracts/blob-contract';
