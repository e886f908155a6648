import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StorageClient } from '../../shared/http/storage-client';
import { startTestOrchestrator, TEST_KEYS, type TestOrchestrator, type TestRole } from './orchestrator-fixture';
import { startTestStorage, type TestStorage } from './storage-fixture';
import { startTestAgent, type TestAgent } from './agent-fixture';

export const EXAMPLE_DIR = path.join(__dirname, '../../compute-agent/examples/breast-cancer');
export const exampleItem = (uuid: string) => path.join(EXAMPLE_DIR, 'data', `${uuid}.csv`);

export interface TestSystem {
  o: TestOrchestrator;
  s: TestStorage;
  /** Absent when started with `agent: false` (the test starts its own). */
  a?: TestAgent;
  /** A scratch directory of the test's own. */
  work: string;
  storageAs(role: TestRole): StorageClient;
  cleanup(): Promise<void>;
}

/** The three services of one test file: orchestrator, storage gateway and (by default) a compute agent. */
export async function startTestSystem(
  label: string,
  orchestratorSettings: Record<string, string> = {},
  options: { agent?: boolean } = {},
): Promise<TestSystem> {
  const o = await startTestOrchestrator(label, orchestratorSettings);
  const s = await startTestStorage();
  const a = options.agent === false ? undefined : await startTestAgent(o.url, s.url, o.prefix);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `uplet-${label}-`));
  const system: TestSystem = {
    o,
    s,
    a,
    work,
    storageAs: (role) => new StorageClient({ baseUrl: s.url, apiKey: TEST_KEYS[role].key }),
    cleanup: async () => {
      // The agent a test put in place of the default one (`sys.a = …`), not only the one started here: an open broker connection keeps jest from exiting.
      await system.a?.cleanup();
      await s.cleanup();
      await o.cleanup();
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
  return system;
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Uploads a CSV as the provider's data blob, registers it as a dataset (`POST /v1/datasets`) and
 * waits for its profile: the dataset id once `ready` (any other outcome throws, with the dataset).
 */
export async function registerReadyDataset(sys: TestSystem, storageUuid: string, file: string, name = storageUuid): Promise<string> {
  await sys.storageAs('provider').uploadFile('data', storageUuid, file, { contentType: 'text/csv' });
  const r = await sys.o.call('provider', 'POST', '/v1/datasets', { name, storage_uuid: storageUuid, format: 'csv' });
  if (r.status !== 201) throw new Error(`registering ${storageUuid}: ${r.status} ${JSON.stringify(r.body)}`);
  const id = r.body.dataset_id as string;
  const d = await waitFor(async () => {
    const v = (await sys.o.call('provider', 'GET', `/v1/datasets/${id}`)).body;
    return v.status === 'profiling' ? undefined : v;
  }, 60_000);
  if (d.status !== 'ready') throw new Error(`dataset ${storageUuid} ended ${d.status}: ${JSON.stringify(d)}`);
  return id;
}
