import {
  type BlobLocations,
  reportPath,
  type ClaimAnswer,
  type ClaimRequest,
  type DoneReportOfKind,
  type FailedReport,
  type HeartbeatAnswer,
  type Lease,
  type LeaseRequest,
  type LeaseTerms,
  type TaskKind,
  type TaskOfKind,
  type WorkReport,
} from '../contracts/work-contract';
import { UpletApiError } from './api-error';
import http from 'node:http';
import https from 'node:https';
import { DEFAULT_RETRY, parseJsonText, readAnswerText, RetryableHttpError, withRetry, type RetryPolicy } from './http-retry';

export type { Lease, LeaseTerms, Learnuplet, Preduplet, TaskKind } from '../contracts/work-contract';

/** A refusal by the orchestrator (4xx) with its stable code, e.g. NOT_CLAIMABLE or LEASE_LOST (WORK_ERROR_CODES). */
export class OrchestratorRequestError extends UpletApiError {
  constructor(message: string, status: number, code: string, details?: unknown) {
    super(message, status, code, details);
    this.name = 'OrchestratorRequestError';
  }
}

/**
 * The compute nodes' client of the orchestrator. Heartbeats, releases and
 * reports are retried on network errors and 5xx (a repeated identical report is
 * answered 200); a claim is not, since a lost answer cannot be told from a lost request.
 */
export class OrchestratorClient {
  private readonly retry: RetryPolicy;
  // Kept-alive connections, per client; idle ones do not hold the process open (Node unrefs them).
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });

  constructor(private readonly options: { baseUrl: string; apiKey: string; retry?: Partial<RetryPolicy> }) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  async claim<K extends TaskKind>(
    kind: K,
    uuid: string,
    worker: string,
    site?: string,
  ): Promise<{ task: TaskOfKind[K]; lease: Lease; blobLocations: BlobLocations }> {
    const request: ClaimRequest = { worker, ...(site ? { site } : {}) };
    const body = (await this.post(`/worker/${kind}/${uuid}`, request)) as ClaimAnswer<K>;
    return { task: (body as unknown as Record<K, TaskOfKind[K]>)[kind], lease: body.lease, blobLocations: body.blob_locations ?? {} };
  }

  /** Tells the orchestrator this agent of `site` is alive (GET /sites lists it as live for 3 heartbeat intervals). */
  async ping(site: string, name: string): Promise<void> {
    await this.post(`/sites/${encodeURIComponent(site)}/agents/${encodeURIComponent(name)}`, {});
  }

  async heartbeat(kind: TaskKind, uuid: string, token: string): Promise<LeaseTerms> {
    const request: LeaseRequest = { lease_token: token };
    const body = (await withRetry(this.retry, () => this.post(`/worker/${kind}/${uuid}/heartbeat`, request))) as HeartbeatAnswer;
    return body.lease;
  }

  async release(kind: TaskKind, uuid: string, token: string): Promise<void> {
    const request: LeaseRequest = { lease_token: token };
    await withRetry(this.retry, () => this.post(`/worker/${kind}/${uuid}/release`, request));
  }

  async report<K extends TaskKind>(kind: K, uuid: string, token: string, report: DoneReportOfKind[K] | FailedReport): Promise<void> {
    const body: WorkReport<K> = { ...report, lease_token: token };
    await withRetry(this.retry, () => this.post(reportPath(kind, uuid), body));
  }

  async get<T>(path: string): Promise<T> {
    return withRetry(this.retry, async () => (await this.request('GET', path)) as T);
  }

  /** Any call of the API, not retried (a POST that registers must not be sent twice blindly); GETs go through `get`. */
  async send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return (await this.request(method, path, body)) as T;
  }

  private post(path: string, body: unknown): Promise<unknown> {
    return this.request('POST', path, body);
  }

  /**
   * One call over node:http on kept-alive connections: an agent makes three or more calls per
   * task, and fetch's web streams cost about twice the CPU per call (measured in-process:
   * 3 calls with their server, 4.0-4.4 CPU-ms with fetch, 1.9-2.4 with node:http).
   */
  private request(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(`${this.options.baseUrl}${path}`);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const what = `${method} ${path}`;
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? https : http).request(
        url,
        {
          method,
          agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          headers: {
            'x-api-key': this.options.apiKey,
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          },
        },
        (res) => {
          readAnswerText(res, `orchestrator: ${what}`)
            .then((text) => resolve(this.parse(res.statusCode ?? 500, text, what)))
            .catch(reject);
        },
      );
      // As fetch's default: an orchestrator that answers nothing for 5 minutes is unreachable.
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.on('error', (err) => reject(new RetryableHttpError(`orchestrator: ${what}: ${err.message}`)));
      req.end(payload);
    });
  }

  private parse(status: number, text: string, what: string): unknown {
    return parseJsonText(
      status,
      text,
      `orchestrator: ${what}`,
      (message, answered, code, details) => new OrchestratorRequestError(message, answered, code, details),
    );
  }
}

const REQUEST_TIMEOUT_MS = 300_000;
