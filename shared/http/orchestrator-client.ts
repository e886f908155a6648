import { DEFAULT_RETRY, parseJsonResponse, withRetry, type RetryPolicy } from './http-retry';

export type UpletKind = 'learnuplet' | 'preduplet';

/** A refusal by the orchestrator (4xx) with its stable code, e.g. NOT_CLAIMABLE or LEASE_LOST. */
export class OrchestratorRequestError extends Error {
  constructor(message: string, readonly status: number, readonly code: string) {
    super(message);
    this.name = 'OrchestratorRequestError';
  }
}

export interface Lease {
  token: string;
  attempt: number;
  expires_at: string;
  /** Opens the task's data blobs and authorises writing its outputs at the storage gateway, until the lease expires. */
  capability: string;
  /** The outputs (`<kind>/<uuid>`) the capability authorises writing. */
  writes?: string[];
}

/** A heartbeat's answer: the extended lease and a fresh capability that expires with it. */
export interface LeaseRenewal {
  attempt: number;
  expires_at: string;
  capability?: string;
}

export interface Learnuplet {
  uuid: string;
  problem: string;
  algo: string;
  workflow: string;
  rank: number;
  train_data: string[];
  test_data: string[];
  model_start: string;
  model_end: string;
  attempt: number;
}

export interface Preduplet {
  uuid: string;
  problem: string;
  workflow: string;
  algo: string;
  model: string;
  data: string;
  owner: string;
  attempt: number;
}

export type LearnReport =
  | { status: 'done'; perf: number; train_perf: Record<string, number>; test_perf: Record<string, number> }
  | { status: 'failed'; reason: string; log_tail?: string };

export type PredReport = { status: 'done'; prediction_storage_uuid: string } | { status: 'failed'; reason: string; log_tail?: string };

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

  async claimLearnuplet(uuid: string, worker: string): Promise<{ uplet: Learnuplet; lease: Lease }> {
    const body = (await this.post(`/worker/learnuplet/${uuid}`, { worker })) as { learnuplet: Learnuplet; lease: Lease };
    return { uplet: body.learnuplet, lease: body.lease };
  }

  async claimPreduplet(uuid: string, worker: string): Promise<{ uplet: Preduplet; lease: Lease }> {
    const body = (await this.post(`/worker/preduplet/${uuid}`, { worker })) as { preduplet: Preduplet; lease: Lease };
    return { uplet: body.preduplet, lease: body.lease };
  }

  async heartbeat(kind: UpletKind, uuid: string, token: string): Promise<LeaseRenewal> {
    const body = (await withRetry(this.retry, () => this.post(`/worker/${kind}/${uuid}/heartbeat`, { lease_token: token }))) as { lease: LeaseRenewal };
    return body.lease;
  }

  async release(kind: UpletKind, uuid: string, token: string): Promise<void> {
    await withRetry(this.retry, () => this.post(`/worker/${kind}/${uuid}/release`, { lease_token: token }));
  }

  async learndone(uuid: string, token: string, report: LearnReport): Promise<void> {
    await withRetry(this.retry, () => this.post(`/learndone/${uuid}`, { ...report, lease_token: token }));
  }

  async preddone(uuid: string, token: string, report: PredReport): Promise<void> {
    await withRetry(this.retry, () => this.post(`/preddone/${uuid}`, { ...report, lease_token: token }));
  }

  async get<T>(path: string): Promise<T> {
    return withRetry(this.retry, async () => this.parse(await fetch(`${this.options.baseUrl}${path}`, { headers: { 'x-api-key': this.options.apiKey } }), `GET ${path}`) as Promise<T>);
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.options.baseUrl}${path}`, {
      method: 'POST', headers: { 'x-api-key': this.options.apiKey, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return this.parse(res, `POST ${path}`);
  }

  private parse(res: Response, what: string): Promise<unknown> {
    return parseJsonResponse(res, `orchestrator: ${what}`, (message, status, code) => new OrchestratorRequestError(message, status, code));
  }
}
