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
import { DEFAULT_RETRY, parseJsonResponse, withRetry, type RetryPolicy } from './http-retry';

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
    return withRetry(
      this.retry,
      async () => this.parse(await fetch(`${this.options.baseUrl}${path}`, { headers: { 'x-api-key': this.options.apiKey } }), `GET ${path}`) as Promise<T>,
    );
  }

  /** Any call of the API, not retried (a POST that registers must not be sent twice blindly); GETs go through `get`. */
  async send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return (await this.post(path, body, method)) as T;
  }

  private async post(path: string, body: unknown, method = 'POST'): Promise<unknown> {
    const res = await fetch(`${this.options.baseUrl}${path}`, {
      method,
      headers: { 'x-api-key': this.options.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return this.parse(res, `${method} ${path}`);
  }

  private parse(res: Response, what: string): Promise<unknown> {
    return parseJsonResponse(res, `orchestrator: ${what}`, (message, status, code, details) => new OrchestratorRequestError(message, status, code, details));
  }
}
