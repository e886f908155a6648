/**
 * Asking a teacher URL for its predictions on a job's training rows. Runs in the agent, never in
 * the sandbox (which has no network): POST `{samples, feature_names, classes}` in batches of at
 * most `batchRows` rows, each request bounded by a timeout and its answer by a size limit, and
 * each answer checked: `{predictions: [...]}`, one per sample, a number (regression) or a list of
 * class probabilities in `classes` order (classification). Redirects are not followed: the rows
 * go to the allow-listed URL and nowhere else. The headers are secrets: they are sent, never
 * logged nor put in a reason.
 */

/** The agent's limits on a teacher (TEACHER_* settings, checked at start-up). */
export interface TeacherClientSettings {
  batchRows: number;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Further tries of a request that got no HTTP answer at all (refused, reset, DNS); other failures are final. */
  retries: number;
}

/** A teacher that failed: the reason names the cause and the batch's rows, and is final (the task fails for good). */
export class TeacherFailed extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'TeacherFailed';
  }
}

/** What the Python `teach` wrote for a teacher URL: the training rows' input fields. */
export interface TeacherSamples {
  feature_names: string[];
  classes: string[] | null;
  samples: unknown[][];
}

/** Class probabilities must sum to 1 within this (the Python checks and renormalises the same way). */
const PROBABILITY_TOLERANCE = 1e-3;
const RETRY_DELAY_MS = 500;

export async function askTeacher(
  teacher: { url: string; headers: Record<string, string> },
  input: TeacherSamples,
  settings: TeacherClientSettings,
  signal: AbortSignal,
): Promise<Array<number | number[]>> {
  const predictions: Array<number | number[]> = [];
  for (let start = 0; start < input.samples.length; start += settings.batchRows) {
    const samples = input.samples.slice(start, start + settings.batchRows);
    const rows = `rows ${start}-${start + samples.length - 1}`;
    const body = JSON.stringify({ samples, feature_names: input.feature_names, ...(input.classes ? { classes: input.classes } : {}) });
    const answer = await postWithRetries(teacher, body, rows, settings, signal);
    predictions.push(...checkAnswer(answer, samples.length, input.classes, rows));
  }
  return predictions;
}

async function postWithRetries(
  teacher: { url: string; headers: Record<string, string> },
  body: string,
  rows: string,
  settings: TeacherClientSettings,
  signal: AbortSignal,
): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await post(teacher, body, rows, settings, signal);
    } catch (err) {
      signal.throwIfAborted();
      if (!(err instanceof NoAnswer) || attempt >= settings.retries) throw err instanceof NoAnswer ? new TeacherFailed(err.message) : err;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * 2 ** attempt));
    }
  }
}

/** The request got no HTTP answer (a transport error): worth another try. */
class NoAnswer extends Error {}

async function post(
  teacher: { url: string; headers: Record<string, string> },
  body: string,
  rows: string,
  settings: TeacherClientSettings,
  signal: AbortSignal,
) {
  const timeout = AbortSignal.timeout(settings.timeoutMs);
  const both = AbortSignal.any([signal, timeout]);
  const timedOut = () => new TeacherFailed(`the teacher did not answer ${rows} within ${settings.timeoutMs} ms (TEACHER_TIMEOUT_MS)`);
  let res: Response;
  try {
    res = await fetch(teacher.url, {
      method: 'POST',
      headers: { ...teacher.headers, 'content-type': 'application/json', accept: 'application/json' },
      body,
      redirect: 'manual',
      signal: both,
    });
  } catch (err) {
    signal.throwIfAborted();
    if (timeout.aborted) throw timedOut();
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    // Without a network cause the request itself was refused (a header name or value): its message may quote a header, a secret.
    if (!cause) throw new TeacherFailed(`the request to the teacher for ${rows} could not be made (${(err as Error).name}); check teacher_predict_headers`);
    throw new NoAnswer(`the teacher could not be reached for ${rows}: ${cause.code ?? cause.message ?? 'no answer'}`);
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    throw new TeacherFailed(
      `the teacher answered ${rows} with a redirect (HTTP ${res.status}); redirects are not followed, the rows go only to the allow-listed URL`,
    );
  }
  let text: string;
  try {
    text = await readLimited(res, settings.maxResponseBytes, rows);
  } catch (err) {
    signal.throwIfAborted();
    if (timeout.aborted) throw timedOut();
    throw err;
  }
  if (res.status < 200 || res.status >= 300) throw new TeacherFailed(`the teacher answered ${rows} with HTTP ${res.status}${text ? `: ${oneLine(text)}` : ''}`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new TeacherFailed(`the teacher's answer to ${rows} is not JSON: ${oneLine(text)}`);
  }
}

async function readLimited(res: Response, limit: number, rows: string): Promise<string> {
  const tooBig = () => new TeacherFailed(`the teacher's answer to ${rows} is larger than ${limit} bytes (TEACHER_MAX_RESPONSE_BYTES)`);
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel();
    throw tooBig();
  }
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooBig();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A short, single-line excerpt of what the teacher said, for the reason. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

function checkAnswer(answer: unknown, count: number, classes: string[] | null, rows: string): Array<number | number[]> {
  const predictions = (answer as { predictions?: unknown } | null)?.predictions;
  if (typeof answer !== 'object' || answer === null || !Array.isArray(predictions))
    throw new TeacherFailed(`the teacher's answer to ${rows} is not {"predictions": [...]}`);
  if (predictions.length !== count) throw new TeacherFailed(`the teacher gave ${predictions.length} predictions for ${count} samples (${rows})`);
  predictions.forEach((p, i) => {
    const bad = (what: string) => new TeacherFailed(`the teacher's prediction ${i} of ${rows} ${what}`);
    if (!classes) {
      if (typeof p !== 'number' || !Number.isFinite(p)) throw bad('is not a finite number (regression)');
      return;
    }
    if (!Array.isArray(p) || p.length !== classes.length || !p.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0))
      throw bad(`is not a list of ${classes.length} class probabilities (in the order ${classes.join(', ')})`);
    const sum = (p as number[]).reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > PROBABILITY_TOLERANCE) throw bad(`has probabilities summing to ${sum}, not 1`);
  });
  return predictions as Array<number | number[]>;
}
