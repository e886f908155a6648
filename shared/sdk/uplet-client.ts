import { OrchestratorClient } from '../http/orchestrator-client';
import { StorageClient, type UploadOptions } from '../http/storage-client';
import type { RetryPolicy } from '../http/http-retry';
import type { BlobKind, BlobMeta } from '../contracts/blob-contract';
import { UpletApiError } from '../http/api-error';
import { UnreachableError, WaitError } from './errors';
import {
  FINAL_STATUSES,
  type Algo,
  type CancelOutcome,
  type Chain,
  type CollectionName,
  type Collections,
  type Data,
  type Leaderboard,
  type MetricDirection,
  type PredupletDocument,
  type Problem,
  type ProblemDetail,
} from './types';
import type { Dataset, EngineJobView, JobListItem, EngineModel, TrainerRun, TrainerRunInput, TrainerRunSummary } from './training-types';

export interface UpletClientOptions {
  /** The orchestrator, e.g. http://127.0.0.1:8080 */
  orchestratorUrl: string;
  /** A storage gateway (needed for uploads and downloads only). */
  storageUrl?: string;
  apiKey: string;
  retry?: Partial<RetryPolicy>;
}

export interface WaitOptions<T> {
  /** Called at each poll with what was read. */
  onUpdate?: (state: T) => void;
  intervalMs?: number;
  timeoutMs?: number;
  signal?: AbortSignal;
}

const PLURAL: Record<CollectionName, string> = { problem: 'problems', algo: 'algos', data: 'datas', learnuplet: 'learnuplets', preduplet: 'preduplets' };
const enc = encodeURIComponent;

/**
 * One client for the whole system, built on the clients the compute agent uses
 * (OrchestratorClient for the API, StorageClient for blobs: streamed, retried,
 * resumed, checked by sha256). Refusals are UpletApiError with the API's stable
 * code; a service that does not answer is UnreachableError.
 */
export class UpletClient {
  readonly orchestrator: OrchestratorClient;
  private readonly storageClient?: StorageClient;

  constructor(private readonly options: UpletClientOptions) {
    const base = options.orchestratorUrl.replace(/\/$/, '');
    this.orchestrator = new OrchestratorClient({ baseUrl: base, apiKey: options.apiKey, retry: { retries: 2, ...options.retry } });
    if (options.storageUrl)
      this.storageClient = new StorageClient({
        baseUrl: options.storageUrl.replace(/\/$/, ''),
        apiKey: options.apiKey,
        retry: { retries: 2, ...options.retry },
      });
  }

  get storage(): StorageClient {
    if (!this.storageClient) throw new Error('this UpletClient has no storageUrl: uploads and downloads need a storage gateway');
    return this.storageClient;
  }

  // Problems
  async createProblem(input: {
    uuid: string;
    workflow: string;
    test_dataset: string[];
    size_train_dataset: number;
    metric_direction?: MetricDirection;
  }): Promise<Problem> {
    return (await this.post<{ new_problem: Problem }>('/problem', input)).new_problem;
  }
  getProblem(uuid: string): Promise<ProblemDetail> {
    return this.get(`/problem/${enc(uuid)}`);
  }
  leaderboard(problem: string): Promise<Leaderboard> {
    return this.get(`/problem/${enc(problem)}/leaderboard`);
  }
  cancelProblem(uuid: string): Promise<CancelOutcome> {
    return this.post(`/problem/${enc(uuid)}/cancel`);
  }

  // Algos
  async createAlgo(input: { uuid: string; name: string; problem: string }): Promise<{ algo: Algo; newLearnuplets: number }> {
    const answer = await this.post<{ new_algo: Algo; new_learnuplets: number }>('/algo', input);
    return { algo: answer.new_algo, newLearnuplets: answer.new_learnuplets };
  }
  cancelAlgo(uuid: string): Promise<CancelOutcome> {
    return this.post(`/algo/${enc(uuid)}/cancel`);
  }

  // Data
  async registerData(input: { uuids: string[]; problems: string[] }): Promise<{ datas: Data[]; newLearnuplets: number }> {
    const answer = await this.post<{ new_datas: Data[]; new_learnuplets: number }>('/data', { uuid: input.uuids, problems: input.problems });
    return { datas: answer.new_datas, newLearnuplets: answer.new_learnuplets };
  }

  // Predictions
  async requestPredictions(input: { data: string[]; problem: string }): Promise<string[]> {
    return (await this.post<{ preduplets: string[] }>('/prediction', input)).preduplets;
  }
  getPreduplet(uuid: string): Promise<PredupletDocument> {
    return this.get(`/preduplet/${enc(uuid)}`);
  }
  cancelPreduplet(uuid: string): Promise<CancelOutcome> {
    return this.post(`/preduplet/${enc(uuid)}/cancel`);
  }

  // Listing
  getDocument<C extends CollectionName>(collection: C, uuid: string): Promise<Collections[C]['doc']> {
    return this.get(`/${collection}/${enc(uuid)}`);
  }
  /** One page of a collection. */
  async listPage<C extends CollectionName>(
    collection: C,
    filters: Collections[C]['filters'] = {},
    page: { limit?: number; offset?: number } = {},
  ): Promise<{ items: Array<Collections[C]['doc']>; nextOffset: number | null }> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...filters, ...page })) if (v !== undefined) query.set(k, String(v));
    const answer = await this.get<Record<string, unknown>>(`/${collection}${query.size ? `?${query.toString()}` : ''}`);
    return { items: answer[PLURAL[collection]] as Array<Collections[C]['doc']>, nextOffset: answer.next_offset as number | null };
  }
  /** Every document matching the filters, page after page. */
  async list<C extends CollectionName>(collection: C, filters: Collections[C]['filters'] = {}): Promise<Array<Collections[C]['doc']>> {
    const all: Array<Collections[C]['doc']> = [];
    for (let offset: number | null = 0; offset !== null;) {
      const page: { items: Array<Collections[C]['doc']>; nextOffset: number | null } = await this.listPage(collection, filters, { limit: 1000, offset });
      all.push(...page.items);
      offset = page.nextOffset;
    }
    return all;
  }

  /** Each algo's chain of a problem, ranks in order. */
  async chains(problem: string, algo?: string): Promise<Chain[]> {
    const [algos, links] = await Promise.all([
      this.list('algo', { problem, ...(algo ? { uuid: algo } : {}) }),
      this.list('learnuplet', { problem, ...(algo ? { algo } : {}) }),
    ]);
    return algos.map((a) => {
      const chain = links.filter((l) => l.algo === a.uuid).sort((x, y) => x.rank - y.rank);
      return { algo: a, links: chain, finished: chain.every((l) => FINAL_STATUSES.includes(l.status)) };
    });
  }

  /** Polls until every chain of the problem (or one algo's) has ended; a chain ends even when ranks fail. */
  async waitForChains(problem: string, options: WaitOptions<Chain[]> & { algo?: string } = {}): Promise<Chain[]> {
    return this.poll(
      () => this.chains(problem, options.algo),
      (chains) => chains.every((c) => c.finished),
      options,
      `the chains of problem ${problem}`,
    );
  }

  /** Polls until every preduplet has ended; a failed one makes it a WaitError('FAILED') unless `allowFailed`. */
  async waitForPredictions(uuids: string[], options: WaitOptions<PredupletDocument[]> & { allowFailed?: boolean } = {}): Promise<PredupletDocument[]> {
    const docs = await this.poll(
      () => Promise.all(uuids.map((u) => this.getPreduplet(u))),
      (d) => d.every((p) => FINAL_STATUSES.includes(p.status)),
      options,
      `predictions ${uuids.join(', ')}`,
    );
    const bad = docs.filter((p) => p.status !== 'done');
    if (bad.length && !options.allowFailed)
      throw new WaitError(
        `${bad.length} prediction(s) ended ${bad.map((p) => `${p.uuid}: ${p.status}${p.failure_reason ? ` (${p.failure_reason})` : ''}`).join('; ')}`,
        'FAILED',
      );
    return docs;
  }

  // Training: datasets, trainer runs, engine models (README "Training engine", "Trainer run")
  /** Registers an uploaded CSV blob as a dataset; its profile task starts at the dataset's site. */
  registerDataset(input: {
    name: string;
    storage_uuid: string;
    site?: string;
  }): Promise<{ dataset_id: string; status: Dataset['status']; failure_reason?: string }> {
    return this.post('/v1/datasets', { format: 'csv', ...input });
  }
  /** Uploads a CSV to the storage gateway as a `data` blob, then registers it as a dataset. */
  async pushDataset(
    file: string,
    input: { name: string; storage_uuid: string; site?: string },
    options: UploadOptions = {},
  ): Promise<{ dataset_id: string; status: Dataset['status']; blob: BlobMeta }> {
    const blob = await this.uploadFile('data', input.storage_uuid, file, { contentType: 'text/csv', ...options });
    const registered = await this.registerDataset(input);
    return { ...registered, blob };
  }
  getDataset(id: string): Promise<Dataset> {
    return this.get(`/v1/datasets/${enc(id)}`);
  }
  async listDatasets(page: { limit?: number; offset?: number } = {}): Promise<Dataset[]> {
    const q = new URLSearchParams(
      Object.entries(page)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]): [string, string] => [k, String(v)]),
    );
    return (await this.get<{ datasets: Dataset[] }>(`/v1/datasets${q.size ? `?${q.toString()}` : ''}`)).datasets;
  }
  /** Polls until the dataset is profiled; `failed` is a WaitError('FAILED') with the engine's reason. */
  async waitForDataset(id: string, options: WaitOptions<Dataset> = {}): Promise<Dataset> {
    const d = await this.poll(
      () => this.getDataset(id),
      (x) => x.status !== 'profiling',
      { intervalMs: 500, ...options },
      `dataset ${id}`,
    );
    if (d.status === 'failed') throw new WaitError(`dataset ${id} failed: ${d.failure_reason ?? 'no reason given'}`, 'FAILED');
    return d;
  }
  submitTrainerRun(input: TrainerRunInput): Promise<TrainerRunSummary> {
    return this.post('/v1/trainer/run', input);
  }
  getTrainerRun(jobId: string): Promise<TrainerRun> {
    return this.get(`/v1/trainer/jobs/${enc(jobId)}`);
  }
  cancelTrainerRun(jobId: string): Promise<TrainerRunSummary> {
    return this.post(`/v1/trainer/jobs/${enc(jobId)}/cancel`);
  }
  /** Polls until the run is completed or failed (onUpdate sees the progress at each poll); failed is a WaitError('FAILED') unless `allowFailed`. */
  async waitForTrainerRun(jobId: string, options: WaitOptions<TrainerRun> & { allowFailed?: boolean } = {}): Promise<TrainerRun> {
    const run = await this.poll(
      () => this.getTrainerRun(jobId),
      (r) => r.status === 'completed' || r.status === 'failed',
      options,
      `trainer run ${jobId}`,
    );
    if (run.status === 'failed' && !options.allowFailed) throw new WaitError(`trainer run ${jobId} failed: ${run.message ?? 'no reason given'}`, 'FAILED');
    return run;
  }
  /** The engine's view of any job (`GET /v1/jobs/{id}`): the trainer's, the registry's, Akkio's. */
  getJob(jobId: string): Promise<EngineJobView> {
    return this.get(`/v1/jobs/${enc(jobId)}`);
  }
  /** Your jobs (an admin's: all), newest first; optionally of one dataset. */
  async listJobs(filters: { dataset_id?: string; limit?: number; offset?: number } = {}): Promise<JobListItem[]> {
    const q = new URLSearchParams(
      Object.entries(filters)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]): [string, string] => [k, String(v)]),
    );
    return (await this.get<{ jobs: JobListItem[] }>(`/v1/jobs${q.size ? `?${q.toString()}` : ''}`)).jobs;
  }
  getModel(modelId: string): Promise<EngineModel> {
    return this.get(`/v1/models/${enc(modelId)}`);
  }
  /** Predictions by an engine model's id on data of your own (registered with `problems: []`); wait with waitForPredictions. */
  async requestModelPredictions(input: { data: string[]; model: string }): Promise<string[]> {
    return (await this.post<{ preduplets: string[] }>('/prediction', input)).preduplets;
  }

  // Blobs
  /** Streams a file to the storage gateway with its sha256 (the gateway refuses a corrupted transfer); progress as bytes leave. */
  uploadFile(kind: BlobKind, uuid: string, file: string, options: UploadOptions = {}): Promise<BlobMeta> {
    return this.guard(this.options.storageUrl ?? '', () => this.storage.uploadFile(kind, uuid, file, options));
  }
  /** Downloads to a file, resuming after a broken connection, checked against the blob's sha256. */
  downloadFile(kind: BlobKind, uuid: string, dest: string): Promise<BlobMeta> {
    return this.guard(this.options.storageUrl ?? '', () => this.storage.downloadToFile(kind, uuid, dest));
  }
  blobMeta(kind: BlobKind, uuid: string): Promise<BlobMeta> {
    return this.guard(this.options.storageUrl ?? '', () => this.storage.meta(kind, uuid));
  }
  /** The prediction file of a done preduplet (readable by its requester). */
  async downloadPrediction(preduplet: PredupletDocument, dest: string): Promise<BlobMeta> {
    if (!preduplet.prediction_storage_uuid) throw new WaitError(`preduplet ${preduplet.uuid} is ${preduplet.status}: it has no prediction yet`, 'FAILED');
    return this.downloadFile('prediction', preduplet.prediction_storage_uuid, dest);
  }

  /** GET any path of the orchestrator (retried on network errors and 5xx). */
  get<T>(path: string): Promise<T> {
    return this.guard(this.options.orchestratorUrl, () => this.orchestrator.get<T>(path));
  }
  /** POST any path of the orchestrator (not retried). */
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.guard(this.options.orchestratorUrl, () => this.orchestrator.send<T>('POST', path, body));
  }

  private async poll<T>(read: () => Promise<T>, done: (state: T) => boolean, options: WaitOptions<T>, what: string): Promise<T> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      const state = await read();
      options.onUpdate?.(state);
      if (done(state)) return state;
      if (options.signal?.aborted) throw new WaitError(`stopped waiting for ${what}`, 'TIMEOUT');
      if (Date.now() > deadline) throw new WaitError(`${what} did not end within ${options.timeoutMs} ms`, 'TIMEOUT');
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 1_000));
    }
  }

  private async guard<T>(url: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof UpletApiError || (err as { code?: string })?.code === 'DIGEST_MISMATCH') throw err;
      const e = err as { name?: string; message?: string; status?: number };
      if (e?.name === 'RetryableHttpError' || (e?.name === 'TypeError' && /fetch failed/.test(e.message ?? ''))) {
        throw new UnreachableError(`${url} did not answer: ${e.message ?? ''}`.trim(), url, { cause: err });
      }
      throw err;
    }
  }
}
