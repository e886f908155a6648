import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { askTeacher, TeacherFailed, type TeacherClientSettings } from '../../compute-agent/training/teacher-client';

/** The agent's teacher client against an in-process loopback server whose answer each test sets. */
describe('asking a teacher URL', () => {
  let server: http.Server;
  let base: string;
  let answer: (body: { samples: unknown[][] }, res: http.ServerResponse) => void;
  const seen: Array<{ rows: number; headers: http.IncomingHttpHeaders }> = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { samples: unknown[][] };
        seen.push({ rows: body.samples.length, headers: req.headers });
        answer(body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => void (seen.length = 0));

  const settings: TeacherClientSettings = { batchRows: 4, timeoutMs: 2000, maxResponseBytes: 10_000, retries: 1 };
  const input = (n: number, classes: string[] | null = ['a', 'b']) => ({
    feature_names: ['x'],
    classes,
    samples: Array.from({ length: n }, (_, i) => [i]),
  });
  const json = (res: http.ServerResponse, obj: unknown, status = 200) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  };
  const reasonOf = async (run: Promise<unknown>): Promise<string> => {
    try {
      await run;
    } catch (err) {
      return err instanceof TeacherFailed ? err.message : `not TeacherFailed: ${String(err)}`;
    }
    return 'no failure';
  };
  const ask = (n: number, opts: Partial<TeacherClientSettings> = {}, classes: string[] | null = ['a', 'b']) =>
    askTeacher({ url: `${base}/t`, headers: { 'x-key': 'k' } }, input(n, classes), { ...settings, ...opts }, new AbortController().signal);

  test('batches of at most batchRows, the headers on each, the answers in order', async () => {
    answer = (body, res) => json(res, { predictions: body.samples.map((s) => [0.25, 0.75 + 0 * (s[0] as number)]) });
    const p = await ask(10);
    expect(seen.map((s) => s.rows)).toEqual([4, 4, 2]);
    expect(seen.every((s) => s.headers['x-key'] === 'k' && s.headers['content-type'] === 'application/json')).toBe(true);
    expect(p).toHaveLength(10);
  });

  test('a wrong count, a wrong shape, probabilities not summing to 1, not JSON: each a reason naming the rows', async () => {
    answer = (body, res) => json(res, { predictions: body.samples.slice(1).map(() => [0.5, 0.5]) });
    expect(await reasonOf(ask(3))).toBe('the teacher gave 2 predictions for 3 samples (rows 0-2)');
    answer = (body, res) => json(res, { predictions: body.samples.map(() => 1) });
    expect(await reasonOf(ask(3))).toMatch(/prediction 0 of rows 0-2 is not a list of 2 class probabilities \(in the order a, b\)/);
    answer = (body, res) => json(res, { predictions: body.samples.map(() => [0.6, 0.6]) });
    expect(await reasonOf(ask(3))).toMatch(/summing to 1.2, not 1/);
    answer = (body, res) => json(res, { predictions: body.samples.map(() => 'x') });
    expect(await reasonOf(ask(3, {}, null))).toMatch(/is not a finite number \(regression\)/);
    answer = (_body, res) => void res.end('<html>oops</html>');
    expect(await reasonOf(ask(3))).toBe("the teacher's answer to rows 0-2 is not JSON: <html>oops</html>");
    answer = (_body, res) => json(res, { answers: [] });
    expect(await reasonOf(ask(3))).toMatch(/is not \{"predictions": \[\.\.\.\]\}/);
  });

  test('an answer over the size limit, declared or streamed, is refused', async () => {
    answer = (body, res) => json(res, { predictions: body.samples.map(() => [0.5, 0.5]), pad: 'x'.repeat(20_000) });
    expect(await reasonOf(ask(2))).toBe("the teacher's answer to rows 0-1 is larger than 10000 bytes (TEACHER_MAX_RESPONSE_BYTES)");
    answer = (_body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"predictions": [' + '0,'.repeat(8000));
      res.end('0]}');
    };
    expect(await reasonOf(ask(2))).toMatch(/larger than 10000 bytes/);
  });

  test('a redirect is not followed (the rows go only to the allow-listed URL); an HTTP error is final, with the excerpt', async () => {
    answer = (_body, res) => {
      res.writeHead(307, { location: 'http://elsewhere.example/steal' });
      res.end();
    };
    expect(await reasonOf(ask(2))).toMatch(/with a redirect \(HTTP 307\); redirects are not followed/);
    expect(seen).toHaveLength(1);
    seen.length = 0;
    answer = (_body, res) => json(res, { detail: 'bad key' }, 403);
    expect(await reasonOf(ask(2))).toBe('the teacher answered rows 0-1 with HTTP 403: {"detail":"bad key"}');
    expect(seen).toHaveLength(1);
  });

  test('a timeout is final; no HTTP answer at all is retried `retries` times', async () => {
    answer = () => undefined;
    const started = Date.now();
    expect(await reasonOf(ask(2, { timeoutMs: 300 }))).toBe('the teacher did not answer rows 0-1 within 300 ms (TEACHER_TIMEOUT_MS)');
    expect(seen).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2000);
    // A closed port: refused twice (one try, one retry), then the reason.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = async (retries: number) => {
      const t0 = Date.now();
      const reason = await reasonOf(
        askTeacher({ url: `http://127.0.0.1:${port}/t`, headers: {} }, input(1), { ...settings, retries }, new AbortController().signal),
      );
      return { reason, ms: Date.now() - t0 };
    };
    const once = await refused(0);
    expect(once.reason).toBe('the teacher could not be reached for rows 0-0: ECONNREFUSED');
    // The retry waits its 500 ms backoff first: the only way a refused connection takes that long.
    const twice = await refused(1);
    expect(twice.reason).toBe(once.reason);
    expect(twice.ms).toBeGreaterThanOrEqual(500);
    expect(once.ms).toBeLessThan(500);
  });

  test('a canceled task stops asking: the abort is not turned into a teacher failure', async () => {
    answer = () => undefined;
    const stop = new AbortController();
    const run = askTeacher({ url: `${base}/t`, headers: {} }, input(2), settings, stop.signal);
    setTimeout(() => stop.abort(new Error('lease lost')), 100);
    await expect(run).rejects.toThrow('lease lost');
  });
});
