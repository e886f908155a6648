import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { startTestAgent, type TestAgent } from '../harness/agent-fixture';
import { registerReadyDataset, startTestSystem, waitFor, type TestSystem } from '../harness/system-fixture';
import { breastCancerCsv } from '../harness/sklearn-tables';

/**
 * Distillation in the trainer run (seed 004), on real servers: a teacher HTTP server on loopback
 * (allow-listed for the site `default`), a compute agent that sends it the training rows, and the
 * `teacher_model_id` path from a model this server trained.
 */

interface TeacherRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: { samples: unknown[][]; feature_names: string[]; classes?: string[] };
}

/**
 * The teacher: `/sure-of-0` answers every sample "class 0 with certainty" (deliberately unlike
 * the labels), `/broken` answers 500, `/silent` never answers. It records every request.
 */
function startTeacher(): Promise<{ server: http.Server; url: string; requests: TeacherRequest[] }> {
  const requests: TeacherRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as TeacherRequest['body'];
      requests.push({ path: req.url ?? '', headers: req.headers, body });
      if (req.url === '/sure-of-0') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ predictions: body.samples.map(() => [1, 0]) }));
      } else if (req.url === '/broken') {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('teacher overloaded');
      }
      // '/silent': no answer at all.
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests })),
  );
}

const SECRET = 'teacher-secret-7f3a91';
const BATCH_ROWS = 100;

describe('the trainer run distils from a teacher', () => {
  let sys: TestSystem;
  let teacher: Awaited<ReturnType<typeof startTeacher>>;
  let agent: TestAgent;
  let datasetId: string;
  const agentLog: string[] = [];
  beforeAll(async () => {
    teacher = await startTeacher();
    sys = await startTestSystem(
      'distill',
      { LEASE_SECONDS: '30', REAPER_INTERVAL_MS: '500', MAX_ATTEMPTS: '3', TEACHER_URL_ALLOWLIST: JSON.stringify({ default: [`${teacher.url}/`] }) },
      { agent: false },
    );
    // Every line the agent logs, at every level, to show the teacher's headers never reach a log.
    const capture = new Writable({ write: (chunk: Buffer, _enc, done) => void (agentLog.push(chunk.toString('utf8')), done()) });
    const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream: capture })] });
    agent = await startTestAgent(
      sys.o.url,
      sys.s.url,
      sys.o.prefix,
      { AGENT_NAME: 'agent-d', TEACHER_BATCH_ROWS: String(BATCH_ROWS), TEACHER_TIMEOUT_MS: '1500', TEACHER_RETRIES: '1' },
      logger,
    );
    const csv = path.join(sys.work, 'bc.csv');
    breastCancerCsv(csv);
    datasetId = await registerReadyDataset(sys, 'bc-distill', csv, 'bc');
  }, 120_000);
  afterAll(async () => {
    // sys.cleanup closes only an agent it started itself.
    await agent?.cleanup();
    await sys?.cleanup();
    teacher?.server.closeAllConnections();
    await new Promise((resolve) => teacher?.server.close(resolve));
  });

  const STUDY = { model_types: ['decision_tree'], metrics: ['accuracy'], n_trials: 2, random_state: 11 };
  const run = async (body: Record<string, unknown>) => {
    const r = await sys.o.call('provider', 'POST', '/v1/trainer/run', {
      dataset_id: datasetId,
      task: { label_column: 'target', task_kind: 'classification' },
      ...STUDY,
      ...body,
    });
    expect(r.status).toBe(201);
    return r.body.job_id as string;
  };
  const finished = (jobId: string) =>
    waitFor(async () => {
      const v = (await sys.o.call('provider', 'GET', `/v1/trainer/jobs/${jobId}`)).body;
      return v.status === 'completed' || v.status === 'failed' ? v : undefined;
    }, 300_000);
  const accuracies = (v: any) => v.trials.map((t: any) => t.metrics.accuracy as number);
  let plain: any;

  test('a teacher URL: batches of at most TEACHER_BATCH_ROWS input rows with the headers; its targets move the student; the headers stay secret', async () => {
    plain = await finished(await run({}));
    expect(plain.status).toBe('completed');
    expect(plain.teacher).toBeNull();

    const jobId = await run({ teacher_predict_url: `${teacher.url}/sure-of-0`, teacher_predict_headers: { 'x-teacher-key': SECRET } });
    const v = await finished(jobId);
    expect(v.status).toBe('completed');
    // 569 rows, 20 % set aside for the held-out metrics: the teacher saw the 455 others, never the held-out ones.
    expect(v.teacher).toEqual({ kind: 'url', model_id: null, status: 'done', failure_reason: null, rows: 455 });
    const sent = teacher.requests.filter((r) => r.path === '/sure-of-0');
    expect(sent.map((r) => r.body.samples.length)).toEqual([100, 100, 100, 100, 55]);
    for (const r of sent) {
      expect(r.headers['x-teacher-key']).toBe(SECRET);
      expect(r.body.feature_names).toHaveLength(30);
      expect(r.body.feature_names).not.toContain('target');
      expect(r.body.classes).toEqual(['0', '1']);
      expect(r.body.samples.every((s) => s.length === 30 && s.every((x) => typeof x === 'number'))).toBe(true);
    }

    // Same study, same proposals: only the teacher differs. "Class 0 for sure" halves every
    // class-1 row's weight onto class 0, so the student leans to 0 and its accuracy on the TRUE labels falls.
    expect(v.trials.map((t: any) => t.params)).toEqual(plain.trials.map((t: any) => t.params));
    process.stdout.write(`trial accuracy without teacher ${accuracies(plain).join(', ')}; with the "class 0" teacher ${accuracies(v).join(', ')}\n`);
    accuracies(v).forEach((a: number, i: number) => expect(a).toBeLessThan(accuracies(plain)[i] - 0.2));
    expect(v.final_model.report.teacher).toEqual({ source: 'url', weight: 0.5, rows: 455 });
    expect(v.final_model.report.metrics.accuracy).toBeLessThan(plain.final_model.report.metrics.accuracy - 0.2);

    // The headers: in no answer, not on the job, gone from the ended teach task, in no agent log line.
    expect(JSON.stringify(v)).not.toContain(SECRET);
    expect(JSON.stringify(await sys.o.orchestrator.collections.jobs.findOne({ _id: jobId }))).not.toContain(SECRET);
    const task = await sys.o.orchestrator.collections.teachTasks.findOne({ _id: `${jobId}-teach` });
    expect(task?.teacher).toEqual({ kind: 'url', url: `${teacher.url}/sure-of-0`, headers: {} });
    expect(agentLog.length).toBeGreaterThan(0);
    expect(agentLog.join('\n')).not.toContain(SECRET);
  }, 400_000);

  test('a teacher that answers 500, and one that never answers, fail the job with the reason (no retry of the task)', async () => {
    const broken = await finished(await run({ teacher_predict_url: `${teacher.url}/broken` }));
    expect(broken.status).toBe('failed');
    expect(broken.message).toMatch(/the teach task failed: teacher_failed: the teacher answered rows 0-99 with HTTP 500: teacher overloaded/);
    expect(broken.teacher).toMatchObject({ kind: 'url', status: 'failed', rows: null });
    expect(broken.trials).toEqual([]);
    expect(teacher.requests.filter((r) => r.path === '/broken')).toHaveLength(1);

    const started = Date.now();
    const silent = await finished(await run({ teacher_predict_url: `${teacher.url}/silent` }));
    expect(silent.status).toBe('failed');
    expect(silent.message).toMatch(/did not answer rows 0-99 within 1500 ms \(TEACHER_TIMEOUT_MS\)/);
    expect(silent.trials).toEqual([]);
    expect(Date.now() - started).toBeLessThan(60_000);
    // A timeout is final: one request, the task failed at once instead of being retried.
    expect(teacher.requests.filter((r) => r.path === '/silent')).toHaveLength(1);
    const task = await sys.o.orchestrator.collections.teachTasks.findOne({ _id: `${silent.job_id}-teach` });
    expect(task?.attempt).toBe(1);
  }, 200_000);

  test('teacher_model_id: a model of this server teaches in the sandbox; a teacher of another label is refused', async () => {
    const modelId = plain.final_model.model_id as string;
    const wrong = await sys.o.call('provider', 'POST', '/v1/trainer/run', {
      dataset_id: datasetId,
      task: { label_column: 'mean_radius', task_kind: 'regression' },
      teacher_model_id: modelId,
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.details.field).toBe('teacher_model_id');
    expect(wrong.body.error.message).toMatch(/predicts target \(classification\), not mean_radius \(regression\)/);

    const v = await finished(await run({ teacher_model_id: modelId, random_state: 12 }));
    expect(v.status).toBe('completed');
    expect(v.teacher).toEqual({ kind: 'model', model_id: modelId, status: 'done', failure_reason: null, rows: 455 });
    expect(v.final_model.report.teacher).toEqual({ source: 'model', weight: 0.5, rows: 455 });
    expect(v.final_model.report.metrics.accuracy).toBeGreaterThan(0.85);
  }, 300_000);
});
