import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FilesystemBlobStore } from '../../storage-gateway/blob-store/filesystem-blob-store';
import { describeBlobStoreConformance } from '../harness/blob-store-conformance';
import { InMemoryBlobStore } from '../harness/in-memory-blob-store';

/** Content files of the filesystem store are named by their sha256 under content/ (and nothing else is). */
async function contentFiles(root: string): Promise<string[]> {
  const entries = await fs.promises.readdir(path.join(root, 'content'), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => e.name);
}

// A local directory is no server: the filesystem store belongs in the unit project.
describeBlobStoreConformance('filesystem', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-blobstore-'));
  return {
    store: new FilesystemBlobStore(root),
    storedContents: async () => {
      // Nothing half-written may stay behind either.
      expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
      return contentFiles(root);
    },
    cleanup: async () => fs.rmSync(root, { recursive: true, force: true }),
  };
});

describeBlobStoreConformance('in memory', async () => {
  const store = new InMemoryBlobStore();
  return { store, storedContents: async () => store.storedContents() };
});
