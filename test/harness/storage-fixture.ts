import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/config/load-config';
import { silentLogger } from '../../shared/logging/logger';
import { storageSettingsSchema } from '../../storage-gateway/config';
import { startStorageGateway, type RunningStorageGateway } from '../../storage-gateway/storage-service';
import { TEST_CAPABILITY_SECRET, TEST_KEYS } from './orchestrator-fixture';
import { recordResponse, registerService } from './openapi-conformance';

export interface TestStorage {
  gateway: RunningStorageGateway;
  url: string;
  dir: string;
  cleanup(): Promise<void>;
}

/** A storage gateway of this test file's own, on a fresh directory, with the test API keys. */
export async function startTestStorage(overrides: Record<string, string> = {}): Promise<TestStorage> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-blobs-'));
  const settings = loadConfig(storageSettingsSchema, {
    STORAGE_DIR: dir,
    STORAGE_PORT: '0',
    UPLET_API_KEYS: JSON.stringify(Object.values(TEST_KEYS)),
    UPLET_CAPABILITY_SECRET: TEST_CAPABILITY_SECRET,
    ...overrides,
  });
  const gateway = await startStorageGateway(settings, silentLogger());
  registerService(gateway.url, 'storage');
  return {
    gateway,
    url: gateway.url,
    dir,
    cleanup: async () => {
      await gateway.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every file under a directory, for "nothing was left behind" checks. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (
    fs
      .readdirSync(dir, { recursive: true, withFileTypes: true })
      // Not a blob: the access log (STORAGE_DIR/access.log) is created by the first request's record, written after its answer.
      .filter((e) => e.isFile() && !(e.name === 'access.log' && e.parentPath === dir))
      .map((e) => path.join(e.parentPath, e.name))
  );
}

/**
 * fetch for the storage suites: the answer is checked against the gateway's
 * OpenAPI description (a JSON body is read from a clone; the caller's is untouched).
 */
export async function checkedFetch(url: string, init?: RequestInit): Promise<Response> {
  const res = await fetch(url, init);
  const u = new URL(url);
  const type = res.headers.get('content-type');
  let body: unknown;
  if (type && /json/.test(type))
    body = await res
      .clone()
      .json()
      .catch(() => undefined);
  recordResponse(u.origin, init?.method ?? 'GET', u.pathname, res.status, body, type);
  return res;
}
