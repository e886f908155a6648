import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import type { BlobKind, BlobMeta, BlobStore, PutOptions } from '../../storage-gateway/blob-store/blob-store';

/** A store under test, and what the suite needs to look behind its interface. */
export interface StoreUnderTest {
  store: BlobStore;
  /** The sha256 of every content the store holds, linked to a uuid or not: what an orphan would show up in. */
  storedContents(): Promise<string[]>;
  /** Removes what the store left (a directory, a bucket). */
  cleanup?(): Promise<void>;
}

const sha = (content: Buffer | string) => crypto.createHash('sha256').update(content).digest('hex');
const options = (over: Partial<PutOptions> = {}): PutOptions => ({
  owner: 'alice',
  contentType: 'application/octet-stream',
  readers: [],
  maxBytes: 1024 * 1024,
  ...over,
});
/** A body delivered in several chunks, as an upload arrives. */
const bodyOf = (content: Buffer | string, chunkSize = 7): Readable => {
  const buffer = Buffer.from(content);
  const chunks: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += chunkSize) chunks.push(buffer.subarray(i, i + chunkSize));
  return Readable.from(chunks);
};
async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}
async function codeOf(run: Promise<unknown>): Promise<string | undefined> {
  try {
    await run;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

/**
 * What every BlobStore must do, whatever it stores into: the storage gateway relies on these and
 * nothing else. Run it against each implementation: `describeBlobStoreConformance('name', make)`.
 */
export function describeBlobStoreConformance(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`BlobStore conformance: ${name}`, () => {
    let under: StoreUnderTest;
    let store: BlobStore;
    beforeEach(async () => {
      under = await makeStore();
      store = under.store;
    });
    afterEach(async () => under.cleanup?.());

    test('a put blob reads back byte for byte, with its size and sha256', async () => {
      const content = crypto.randomBytes(10_000);
      const { meta, created } = await store.put('data', 'd1', bodyOf(content, 1000), options());
      expect(created).toBe(true);
      expect(meta).toMatchObject({ uuid: 'd1', kind: 'data', size: content.length, sha256: sha(content) });
      expect(await store.stat('data', 'd1')).toEqual(meta);
      expect((await readAll(store.open(meta))).equals(content)).toBe(true);
    });

    test('an empty blob is a blob', async () => {
      const { meta } = await store.put('algo', 'empty', bodyOf(''), options());
      expect(meta).toMatchObject({ size: 0, sha256: sha('') });
      expect((await readAll(store.open(meta))).length).toBe(0);
    });

    test('metadata records the owner, content type, readers, lease and creation time', async () => {
      const before = Date.now();
      const writtenUnder = { kind: 'preduplet', uplet: 'p1', attempt: 2, principal: 'node-1' };
      const { meta } = await store.put(
        'prediction',
        'prediction-p1-2',
        bodyOf('1,2,3'),
        options({ owner: 'node-1', contentType: 'text/csv', readers: ['carol'], writtenUnder }),
      );
      expect(meta).toMatchObject({ owner: 'node-1', content_type: 'text/csv', readers: ['carol'], written_under: writtenUnder });
      expect(Date.parse(meta.created)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(meta.created)).toBeLessThanOrEqual(Date.now() + 1000);
      const { meta: plain } = await store.put('data', 'no-lease', bodyOf('x'), options());
      expect(plain.written_under).toBeUndefined();
    });

    test('byte ranges are inclusive of both ends', async () => {
      const content = Buffer.from('0123456789abcdefghij');
      const { meta } = await store.put('model', 'm1', bodyOf(content), options());
      expect((await readAll(store.open(meta, { start: 0, end: 0 }))).toString()).toBe('0');
      expect((await readAll(store.open(meta, { start: 3, end: 9 }))).toString()).toBe('3456789');
      expect((await readAll(store.open(meta, { start: 15, end: 19 }))).toString()).toBe('fghij');
    });

    test('a missing blob has no metadata', async () => {
      expect(await store.stat('data', 'never-put')).toBeUndefined();
      await store.put('data', 'd1', bodyOf('x'), options());
      expect(await store.stat('algo', 'd1')).toBeUndefined();
    });

    test('the expected digest is checked: a match stores, a mismatch stores nothing', async () => {
      const content = 'checked content';
      expect((await store.put('data', 'ok', bodyOf(content), options({ expectedSha256: sha(content).toUpperCase() }))).created).toBe(true);
      expect(await codeOf(store.put('data', 'bad', bodyOf(content), options({ expectedSha256: sha('other') })))).toBe('DIGEST_MISMATCH');
      expect(await store.stat('data', 'bad')).toBeUndefined();
      expect(await under.storedContents()).toEqual([sha(content)]);
    });

    test('a body over the size limit stores nothing', async () => {
      expect(await codeOf(store.put('data', 'big', bodyOf('x'.repeat(101)), options({ maxBytes: 100 })))).toBe('PAYLOAD_TOO_LARGE');
      expect(await store.stat('data', 'big')).toBeUndefined();
      expect((await store.put('data', 'fits', bodyOf('x'.repeat(100)), options({ maxBytes: 100 }))).meta.size).toBe(100);
    });

    test('a body that fails mid-upload stores nothing', async () => {
      const failing = Readable.from(
        (async function* () {
          yield Buffer.from('first part');
          throw new Error('connection reset');
        })(),
      );
      await expect(store.put('data', 'cut', failing, options())).rejects.toThrow('connection reset');
      expect(await store.stat('data', 'cut')).toBeUndefined();
      expect(await under.storedContents()).toEqual([]);
    });

    test('blobs are immutable: the same uuid with other content is refused, identical content is accepted', async () => {
      const first = await store.put('model', 'm1', bodyOf('version one'), options());
      expect(await codeOf(store.put('model', 'm1', bodyOf('version two'), options()))).toBe('BLOB_EXISTS');
      const again = await store.put('model', 'm1', bodyOf('version one'), options({ owner: 'someone-else' }));
      expect(again.created).toBe(false);
      // The first put's metadata stands: a repeat changes nothing, not even the owner.
      expect(again.meta).toEqual(first.meta);
      expect(await store.stat('model', 'm1')).toEqual(first.meta);
      expect((await readAll(store.open(first.meta))).toString()).toBe('version one');
    });

    test('one uuid under two kinds is two blobs', async () => {
      await store.put('data', 'same', bodyOf('as data'), options());
      const { meta } = await store.put('model', 'same', bodyOf('as model'), options());
      expect((await readAll(store.open(meta))).toString()).toBe('as model');
      expect((await store.stat('data', 'same'))?.sha256).toBe(sha('as data'));
    });

    test('identical content under two uuids reads back under each', async () => {
      const a = await store.put('data', 'a', bodyOf('shared'), options());
      const b = await store.put('data', 'b', bodyOf('shared'), options({ owner: 'bob' }));
      expect(b.created).toBe(true);
      expect(b.meta.owner).toBe('bob');
      expect((await readAll(store.open(a.meta))).toString()).toBe('shared');
      expect((await readAll(store.open(b.meta))).toString()).toBe('shared');
    });

    test("concurrent puts of one uuid with different contents: exactly one wins, and no loser's content is left", async () => {
      const contents = Array.from({ length: 8 }, (_, i) => `racer ${i} `.repeat(200 + i));
      const results = await Promise.allSettled(contents.map((c) => store.put('model', 'contended', bodyOf(c, 64), options())));
      const won = results.filter((r): r is PromiseFulfilledResult<{ meta: BlobMeta; created: boolean }> => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      expect(won[0]!.value.created).toBe(true);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('BLOB_EXISTS');
      const stored = await store.stat('model', 'contended');
      expect(stored).toEqual(won[0]!.value.meta);
      expect((await readAll(store.open(stored!))).toString()).toBe(contents.find((c) => sha(c) === stored!.sha256));
      expect(await under.storedContents()).toEqual([stored!.sha256]);
    });

    test('concurrent puts of one uuid with the same content: one creates, the others find it', async () => {
      const results = await Promise.all(Array.from({ length: 6 }, () => store.put('algo', 'same-bytes', bodyOf('identical', 3), options())));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => JSON.stringify(r.meta))).size).toBe(1);
      expect(await under.storedContents()).toEqual([sha('identical')]);
    });

    test.each<[BlobKind]>([['data'], ['algo'], ['workflow'], ['model'], ['prediction']])('stores blobs of kind %s', async (kind) => {
      const { meta } = await store.put(kind, `${kind}-1`, bodyOf(kind), options());
      expect(await store.stat(kind, `${kind}-1`)).toEqual(meta);
    });
  });
}
