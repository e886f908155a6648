import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { StorageClient } from '../../shared/http/storage-client';
import { signCapability } from '../../shared/auth/capability-token';
import { TEST_CAPABILITY_SECRET, TEST_KEYS, type TestRole } from '../harness/orchestrator-fixture';
import { checkedFetch, filesUnder, startTestStorage, type TestStorage } from '../harness/storage-fixture';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
/** A capability as the orchestrator would issue it on a claim. */
const capability = (blobs: string[], holder: TestRole = 'compute', ttlSeconds = 60) =>
  signCapability(
    { sub: TEST_KEYS[holder].name, uplet: 'u', blobs: blobs.map((b) => `data/${b}`), exp: Math.floor(Date.now() / 1000) + ttlSeconds },
    TEST_CAPABILITY_SECRET,
  );
const withCap = (blobs: string[]) => ({ 'x-uplet-capability': capability(blobs) });
/** A capability authorising a task's outputs (`<kind>/<uuid>`), as a claim issues it: models and predictions need one to be written. */
const writeCap = (outputs: string[], holder: TestRole = 'compute', ttlSeconds = 60) =>
  signCapability(
    { sub: TEST_KEYS[holder].name, uplet: 'u', kind: 'learnuplet', attempt: 1, blobs: [], writes: outputs, exp: Math.floor(Date.now() / 1000) + ttlSeconds },
    TEST_CAPABILITY_SECRET,
  );

describe('storage gateway', () => {
  let s: TestStorage;
  let work: string;
  beforeAll(async () => {
    s = await startTestStorage({ STORAGE_MAX_BLOB_BYTES: String(8 * 1024 * 1024) });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-storage-test-'));
  });
  afterAll(async () => {
    await s.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const put = (role: TestRole | null, kind: string, uuid: string, body: Buffer | string, headers: Record<string, string> = {}) =>
    checkedFetch(`${s.url}/blobs/${kind}/${uuid}`, { method: 'PUT', headers: { ...(role ? { 'x-api-key': TEST_KEYS[role].key } : {}), ...headers }, body });
  const get = (role: TestRole | null, kind: string, uuid: string, headers: Record<string, string> = {}) =>
    checkedFetch(`${s.url}/blobs/${kind}/${uuid}`, { headers: { ...(role ? { 'x-api-key': TEST_KEYS[role].key } : {}), ...headers } });

  test('round trip through the typed client, with a matching sha256', async () => {
    const content = crypto.randomBytes(3 * 1024 * 1024 + 17);
    const src = path.join(work, 'src.bin');
    fs.writeFileSync(src, content);
    const author = new StorageClient({ baseUrl: s.url, apiKey: TEST_KEYS.author.key });
    const meta = await author.uploadFile('algo', 'algo-1', src, { contentType: 'application/gzip' });
    expect(meta).toMatchObject({ uuid: 'algo-1', kind: 'algo', size: content.length, sha256: sha(content), owner: 'author', content_type: 'application/gzip' });
    const compute = new StorageClient({ baseUrl: s.url, apiKey: TEST_KEYS.compute.key });
    const dest = path.join(work, 'dest.bin');
    await compute.downloadToFile('algo', 'algo-1', dest);
    expect(sha(fs.readFileSync(dest))).toBe(sha(content));
    // Identical content again: idempotent; other content under the same uuid: 409.
    expect((await put('author', 'algo', 'algo-1', content)).status).toBe(200);
    const other = await put('author', 'algo', 'algo-1', Buffer.from('other'));
    expect(other.status).toBe(409);
    expect(((await other.json()) as any).error.code).toBe('BLOB_EXISTS');
    // Through the client, refusals are typed with the gateway's status and code.
    const changed = path.join(work, 'changed.bin');
    fs.writeFileSync(changed, 'other');
    await expect(author.uploadFile('algo', 'algo-1', changed)).rejects.toMatchObject({ name: 'StorageRequestError', status: 409, code: 'BLOB_EXISTS' });
    await expect(compute.meta('algo', 'no-such-algo')).rejects.toMatchObject({ name: 'StorageRequestError', status: 404 });
    await expect(compute.downloadToFile('algo', 'no-such-algo', path.join(work, 'none.bin'))).rejects.toMatchObject({ status: 404 });
  });

  test('an empty blob round-trips too', async () => {
    const src = path.join(work, 'empty.bin');
    fs.writeFileSync(src, '');
    const meta = await new StorageClient({ baseUrl: s.url, apiKey: TEST_KEYS.compute.key, capability: writeCap(['model/m-empty']) }).uploadFile(
      'model',
      'm-empty',
      src,
    );
    expect(meta).toMatchObject({ size: 0, sha256: sha(Buffer.alloc(0)) });
    const dest = path.join(work, 'empty-down.bin');
    await new StorageClient({ baseUrl: s.url, apiKey: TEST_KEYS.compute.key }).downloadToFile('model', 'm-empty', dest);
    expect(fs.readFileSync(dest).length).toBe(0);
  });

  test('a digest mismatch stores nothing', async () => {
    const res = await put('provider', 'data', 'd-mismatch', Buffer.from('hello'), { 'x-content-sha256': sha(Buffer.from('bye')) });
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).error.code).toBe('DIGEST_MISMATCH');
    expect((await get('compute', 'data', 'd-mismatch', withCap(['d-mismatch']))).status).toBe(404);
    expect(filesUnder(path.join(s.dir, 'tmp'))).toEqual([]);
  });

  test('a digest sent as a trailer is checked like the header: a mismatch or an announced trailer never sent stores nothing', async () => {
    // fetch cannot send trailers: a raw chunked request, as the typed client sends it.
    const putWithTrailer = (uuid: string, body: Buffer, trailer: Record<string, string>) =>
      new Promise<{ status: number; json: any }>((resolve, reject) => {
        const req = http.request(`${s.url}/blobs/data/${uuid}`, {
          method: 'PUT',
          headers: { 'x-api-key': TEST_KEYS.provider.key, trailer: 'X-Content-SHA256' },
        });
        req.on('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
        });
        req.on('error', reject);
        req.write(body);
        req.addTrailers(trailer);
        req.end();
      });
    const content = crypto.randomBytes(2 * 1024 * 1024 + 5);
    const good = await putWithTrailer('d-trailer', content, { 'X-Content-SHA256': sha(content) });
    expect(good.status).toBe(201);
    expect(good.json).toMatchObject({ uuid: 'd-trailer', size: content.length, sha256: sha(content) });

    const wrong = await putWithTrailer('d-trailer-wrong', content, { 'X-Content-SHA256': sha(Buffer.from('other')) });
    expect(wrong.status).toBe(422);
    expect(wrong.json.error.code).toBe('DIGEST_MISMATCH');
    const missing = await putWithTrailer('d-trailer-missing', content, {});
    expect(missing.status).toBe(400);
    expect(missing.json.error.details).toMatchObject({ where: 'trailer', field: 'x-content-sha256' });
    for (const uuid of ['d-trailer-wrong', 'd-trailer-missing']) expect((await get('compute', 'data', uuid, withCap([uuid]))).status).toBe(404);
    expect(filesUnder(path.join(s.dir, 'tmp'))).toEqual([]);
  });

  test('an upload cut off half way leaves nothing, visible or on disk', async () => {
    const before = filesUnder(s.dir).length;
    await new Promise<void>((resolve) => {
      const req = http.request(`${s.url}/blobs/data/d-cut`, {
        method: 'PUT',
        headers: { 'x-api-key': TEST_KEYS.provider.key, 'content-length': String(4 * 1024 * 1024) },
      });
      req.on('error', () => resolve());
      req.write(crypto.randomBytes(1024 * 1024));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await get('compute', 'data', 'd-cut', withCap(['d-cut']))).status).toBe(404);
    expect(filesUnder(path.join(s.dir, 'tmp'))).toEqual([]);
    expect(filesUnder(s.dir).length).toBe(before);
  });

  test('over the size limit: 413, while streaming as well as from Content-Length, and nothing stored', async () => {
    const big = crypto.randomBytes(9 * 1024 * 1024);
    const declared = await put('provider', 'data', 'd-big', big);
    expect(declared.status).toBe(413);
    const streamed = await fetch(`${s.url}/blobs/data/d-big2`, {
      method: 'PUT',
      headers: { 'x-api-key': TEST_KEYS.provider.key },
      duplex: 'half',
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 9; i++) c.enqueue(new Uint8Array(1024 * 1024));
          c.close();
        },
      }),
    }).catch((e: Error) => e);
    if (!(streamed instanceof Error)) expect(streamed.status).toBe(413);
    await new Promise((r) => setTimeout(r, 100));
    expect((await get('compute', 'data', 'd-big2', withCap(['d-big2']))).status).toBe(404);
    expect(filesUnder(path.join(s.dir, 'tmp'))).toEqual([]);
  });

  test('ranged downloads: a-b, a-, -n; HEAD; 416 outside the blob', async () => {
    const content = Buffer.from('0123456789abcdefghij');
    expect((await put('organizer', 'workflow', 'wf-r', content)).status).toBe(201);
    const part = await get('compute', 'workflow', 'wf-r', { range: 'bytes=5-9' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 5-9/20');
    expect(await part.text()).toBe('56789');
    expect(await (await get('compute', 'workflow', 'wf-r', { range: 'bytes=15-' })).text()).toBe('fghij');
    expect(await (await get('compute', 'workflow', 'wf-r', { range: 'bytes=-3' })).text()).toBe('hij');
    expect((await get('compute', 'workflow', 'wf-r', { range: 'bytes=20-' })).status).toBe(416);
    const head = await fetch(`${s.url}/blobs/workflow/wf-r`, { method: 'HEAD', headers: { 'x-api-key': TEST_KEYS.compute.key } });
    expect(head.headers.get('etag')).toBe(`"${sha(content)}"`);
    expect(head.headers.get('content-length')).toBe('20');
  });

  test('a download cut off is resumed by the client and verified', async () => {
    const content = crypto.randomBytes(6 * 1024 * 1024);
    expect((await put('compute', 'model', 'm-resume', content, { 'x-uplet-capability': writeCap(['model/m-resume']) })).status).toBe(201);
    // A proxy that drops the first connection after ~1 MiB.
    let first = true;
    const proxy = http.createServer((req, res) => {
      const upstream = http.request(`${s.url}${req.url}`, { headers: req.headers, method: req.method }, (up) => {
        res.writeHead(up.statusCode ?? 500, up.headers);
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          sent += chunk.length;
          res.write(chunk);
          if (first && req.url === '/blobs/model/m-resume' && sent > 1024 * 1024) {
            first = false;
            res.destroy();
            up.destroy();
          }
        });
        up.on('end', () => res.end());
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const port = (proxy.address() as { port: number }).port;
      const client = new StorageClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: TEST_KEYS.compute.key, retry: { initialDelayMs: 10 } });
      const dest = path.join(work, 'resumed.bin');
      await client.downloadToFile('model', 'm-resume', dest);
      expect(first).toBe(false);
      expect(sha(fs.readFileSync(dest))).toBe(sha(content));
      // The same without a metadata request: checked against the digest and size the first answer announced.
      first = true;
      const fetched = path.join(work, 'resumed-fetched.bin');
      expect(await client.fetchToFile('model', 'm-resume', fetched)).toEqual({ sha256: sha(content), size: content.length });
      expect(first).toBe(false);
      expect(sha(fs.readFileSync(fetched))).toBe(sha(content));
    } finally {
      proxy.close();
    }
  });

  test('a download whose bytes were changed on the way is refused, and leaves no file', async () => {
    const content = crypto.randomBytes(64 * 1024);
    expect((await put('compute', 'model', 'm-flip', content, { 'x-uplet-capability': writeCap(['model/m-flip']) })).status).toBe(201);
    // A proxy that flips one byte of every body, keeping the gateway's headers (digest, length).
    const proxy = http.createServer((req, res) => {
      const upstream = http.request(`${s.url}${req.url}`, { headers: req.headers, method: req.method }, (up) => {
        res.writeHead(up.statusCode ?? 500, up.headers);
        let flipped = false;
        up.on('data', (chunk: Buffer) => {
          if (!flipped && chunk.length > 0) {
            chunk = Buffer.from(chunk);
            chunk[0] = chunk[0]! ^ 0xff;
            flipped = true;
          }
          res.write(chunk);
        });
        up.on('end', () => res.end());
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const port = (proxy.address() as { port: number }).port;
      const client = new StorageClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: TEST_KEYS.compute.key, retry: { initialDelayMs: 10 } });
      for (const how of ['downloadToFile', 'fetchToFile'] as const) {
        const dest = path.join(work, `flipped-${how}.bin`);
        await expect(client[how]('model', 'm-flip', dest)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
        expect(fs.existsSync(dest)).toBe(false);
        expect(fs.existsSync(`${dest}.part`)).toBe(false);
      }
    } finally {
      proxy.close();
    }
  });

  test('path tricks in uuids and kinds are refused with 400', async () => {
    // Raw requests: fetch would normalize `%2e%2e` away before sending it.
    const raw = (p: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: new URL(s.url).port, path: p, headers: { 'x-api-key': TEST_KEYS.compute.key } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject);
      });
    for (const bad of ['..%2F..%2Fetc', '%2e%2e', 'a%2Fb', 'x'.repeat(65), '%C3%A9t%C3%A9', '.hidden', 'a%00b', '%ff']) {
      expect({ bad, status: await raw(`/blobs/data/${bad}`) }).toEqual({ bad, status: 400 });
    }
    expect(await raw('/blobs/data/../../etc/passwd')).toBe(404);
    expect((await get('compute', 'secrets', 'x')).status).toBe(400);
    expect((await put('provider', 'data', '..%2Fescape', 'x')).status).toBe(400);
  });
});

/** Every kind × role pair, for upload and download, against the permission table in the README. */
describe('storage gateway permissions', () => {
  let s: TestStorage;
  beforeAll(async () => void (s = await startTestStorage()));
  afterAll(async () => s.cleanup());

  const roles: Array<TestRole | null> = [null, 'organizer', 'provider', 'author', 'compute', 'admin'];
  const uploader: Record<string, TestRole> = { data: 'provider', algo: 'author', workflow: 'organizer', model: 'compute', prediction: 'compute' };
  const mayUpload: Record<string, Array<TestRole | null>> = {
    data: ['provider', 'admin'],
    algo: ['author', 'admin'],
    workflow: ['organizer', 'admin'],
    model: ['compute', 'admin'],
    prediction: ['compute', 'admin'],
  };
  // Readers of a blob uploaded by `uploader[kind]`; the prediction names `reader` as its requester.
  const mayRead: Record<string, Array<TestRole | null>> = {
    data: ['compute'],
    algo: ['author', 'compute', 'admin'],
    workflow: ['organizer', 'compute', 'admin'],
    model: ['compute', 'admin'],
    prediction: ['reader', 'compute', 'admin'],
  };

  const outputKinds = ['model', 'prediction'];
  test('uploads: 401 without a key, 403 for the wrong role, 201 for the right one', async () => {
    for (const kind of Object.keys(uploader)) {
      for (const role of roles) {
        const uuid = `up-${kind}-${role ?? 'anon'}`;
        // Outputs need the writer's capability on top of the role: every role gets one here, so the role alone decides.
        const cap: Record<string, string> = outputKinds.includes(kind) && role ? { 'x-uplet-capability': writeCap([`${kind}/${uuid}`], role) } : {};
        const res = await fetch(`${s.url}/blobs/${kind}/${uuid}`, {
          method: 'PUT',
          headers: role ? { 'x-api-key': TEST_KEYS[role].key, ...cap } : {},
          body: 'x',
        });
        const expected = role === null ? 401 : mayUpload[kind]!.includes(role) ? 201 : 403;
        expect({ kind, role, status: res.status }).toEqual({ kind, role, status: expected });
      }
    }
  });

  test('downloads: data only to compute; algos and workflows to compute and their owner; predictions to their requester', async () => {
    for (const kind of Object.keys(uploader)) {
      const res = await fetch(`${s.url}/blobs/${kind}/rd-${kind}`, {
        method: 'PUT',
        body: 'secret',
        headers: {
          'x-api-key': TEST_KEYS[uploader[kind]!].key,
          ...(kind === 'prediction' ? { 'x-uplet-readers': 'reader' } : {}),
          ...(outputKinds.includes(kind) ? { 'x-uplet-capability': writeCap([`${kind}/rd-${kind}`], uploader[kind]) } : {}),
        },
      });
      expect(res.status).toBe(201);
      for (const role of [...roles, 'reader' as TestRole]) {
        // Data needs the holder's capability on top of the role: every role gets one here, so the role alone decides.
        const cap: Record<string, string> = kind === 'data' && role ? { 'x-uplet-capability': capability([`rd-${kind}`], role) } : {};
        const got = await fetch(`${s.url}/blobs/${kind}/rd-${kind}`, { headers: role ? { 'x-api-key': TEST_KEYS[role].key, ...cap } : {} });
        const expected = role === null ? 401 : mayRead[kind]!.includes(role) ? 200 : 403;
        expect({ kind, role, status: got.status }).toEqual({ kind, role, status: expected });
        const body = await got.text();
        if (expected === 200) expect(body).toBe('secret');
        else expect(body).not.toContain('secret');
      }
    }
  });
});

/** Per-task capabilities: a compute node reads only the data of the work it holds, and writes only its outputs. */
describe('storage gateway data capabilities', () => {
  let s: TestStorage;
  beforeAll(async () => {
    s = await startTestStorage();
    for (const uuid of ['mine', 'other']) {
      const res = await fetch(`${s.url}/blobs/data/${uuid}`, { method: 'PUT', headers: { 'x-api-key': TEST_KEYS.provider.key }, body: `rows of ${uuid}` });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => s.cleanup());

  const read = (uuid: string, role: TestRole, cap?: string) =>
    fetch(`${s.url}/blobs/data/${uuid}`, { headers: { 'x-api-key': TEST_KEYS[role].key, ...(cap ? { 'x-uplet-capability': cap } : {}) } });

  test('with the capability of its task a compute node reads the data it names, and nothing else', async () => {
    const cap = capability(['mine']);
    const ok = await read('mine', 'compute', cap);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('rows of mine');
    const cases: Array<[string, TestRole, string | undefined, RegExp]> = [
      ['other', 'compute', cap, /does not name data\/other/],
      ['mine', 'compute', undefined, /capability .* is required/],
      ['mine', 'compute2', cap, /issued to another compute node/],
      ['mine', 'compute', capability(['mine'], 'compute', -5), /expired/],
      ['mine', 'compute', `${cap.split('.')[0]}.${'A'.repeat(43)}`, /signature is invalid/],
      [
        'mine',
        'compute',
        signCapability({ sub: 'node-1', uplet: 'u', blobs: ['data/mine'], exp: 2e9 }, 'another-secret-of-at-least-32-chars!!'),
        /signature is invalid/,
      ],
      ['mine', 'compute', 'garbage', /malformed/],
      // A capability authorising writes opens nothing for reading.
      ['mine', 'compute', writeCap(['data/mine']), /does not name data\/mine/],
    ];
    for (const [uuid, role, c, reason] of cases) {
      const res = await read(uuid, role, c);
      const body = (await res.json()) as any;
      expect({ uuid, role, status: res.status }).toEqual({ uuid, role, status: 403 });
      expect(body.error.message).toMatch(reason);
    }
  });
});
