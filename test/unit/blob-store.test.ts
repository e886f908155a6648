import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { EarlyFlush, FilesystemBlobStore } from '../../storage-gateway/blob-store/filesystem-blob-store';
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

describe('filesystem store: early write-back of large uploads', () => {
  const MiB = 1024 * 1024;
  const chunks = (total: number, each: number) => Readable.from(Array.from({ length: Math.ceil(total / each) }, (_, i) => Buffer.alloc(each, i % 251)));
  const options = (maxBytes: number) => ({ owner: 'o', contentType: 'application/octet-stream', readers: [], maxBytes });
  const openFds = () => fs.readdirSync('/proc/self/fd').length;

  test('an upload past the threshold starts write-backs while it arrives, and stores the same bytes', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-blobstore-flush-'));
    try {
      const store = new FilesystemBlobStore(root, MiB);
      const fds = openFds();
      const { meta } = await store.put('data', 'big', chunks(6 * MiB, 256 * 1024), options(64 * MiB));
      expect(store.earlyFlushes).toBeGreaterThanOrEqual(1);
      const expected = crypto.createHash('sha256');
      for await (const c of chunks(6 * MiB, 256 * 1024)) expected.update(c as Buffer);
      expect(meta).toMatchObject({ size: 6 * MiB, sha256: expected.digest('hex') });
      const stored = fs.readFileSync(path.join(root, 'content', meta.sha256.slice(0, 2), meta.sha256.slice(2, 4), meta.sha256));
      expect(crypto.createHash('sha256').update(stored).digest('hex')).toBe(meta.sha256);
      expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
      expect(openFds()).toBe(fds);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('a write-back due before the upload file exists does not fail the final sync', async () => {
    // The bytes pass the hash before the write stream has created its file (its open is queued behind other file work).
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-blobstore-flush-'));
    try {
      const file = path.join(root, 'upload.part');
      const flush = new EarlyFlush(file, 1);
      flush.wrote(2);
      expect(flush.started).toBe(1);
      await flush.close(); // waits for the write-back, whose open failed: the file did not exist yet
      fs.writeFileSync(file, 'arrived');
      await expect(flush.sync()).resolves.toBeUndefined();
      await flush.close();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test("the content's directory is fsynced before the metadata that points at it is linked", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-blobstore-order-'));
    const events: string[] = [];
    const realOpen = fs.promises.open.bind(fs.promises);
    const realLink = fs.promises.link.bind(fs.promises);
    const open = jest.spyOn(fs.promises, 'open').mockImplementation(async (file, flags, mode) => {
      const fh = await realOpen(file, flags, mode);
      if (flags === 'r' && String(file).includes(`${path.sep}content${path.sep}`)) {
        const sync = fh.sync.bind(fh);
        fh.sync = async () => {
          await sync();
          events.push('content directory fsynced');
        };
      }
      return fh;
    });
    const link = jest.spyOn(fs.promises, 'link').mockImplementation(async (from, to) => {
      events.push('metadata linked');
      return realLink(from, to);
    });
    try {
      const store = new FilesystemBlobStore(root);
      await store.put('data', 'ordered', Readable.from([Buffer.from('bytes')]), options(1024));
      expect(events).toEqual(['content directory fsynced', 'metadata linked']);
    } finally {
      open.mockRestore();
      link.mockRestore();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test("an early write-back's disk error fails the final sync (the kernel reports it once)", async () => {
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const handle = { datasync: jest.fn(async () => Promise.reject(eio)), sync: jest.fn(async () => undefined), close: jest.fn(async () => undefined) };
    const open = jest.spyOn(fs.promises, 'open').mockResolvedValue(handle as unknown as fs.promises.FileHandle);
    try {
      const flush = new EarlyFlush('/nowhere/upload.part', 1);
      flush.wrote(2);
      await expect(flush.sync()).rejects.toBe(eio);
      expect(handle.sync).not.toHaveBeenCalled();
      await flush.close();
      expect(handle.close).toHaveBeenCalledTimes(1);
    } finally {
      open.mockRestore();
    }
  });

  test('an upload refused after write-backs started leaves nothing behind and no descriptor open', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-blobstore-flush-'));
    try {
      const store = new FilesystemBlobStore(root, MiB);
      const fds = openFds();
      await expect(store.put('data', 'too-big', chunks(6 * MiB, 256 * 1024), options(4 * MiB))).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([]);
      expect(await contentFiles(root)).toEqual([]);
      expect(openFds()).toBe(fds);
      expect(await store.stat('data', 'too-big')).toBeUndefined();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
