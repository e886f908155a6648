import fs from 'node:fs';
import path from 'node:path';
import type { LocalMongoServer } from '../../standalone/local-db/local-mongo-server';
import { stopFerretDb, waitForExit } from '../../standalone/local-db/ferretdb-process';
import { readState, STATE_ENV } from './test-servers-state';

/** Stops the servers global setup started (a worker may have restarted FerretDB: the state file knows its pid). */
export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as { __upletTestServer?: LocalMongoServer }).__upletTestServer;
  if (!server) return;
  const state = readState();
  if (state.ferret && server.ferret && state.ferret.pid !== server.ferret.pid) {
    stopFerretDb(state.ferret);
    if (!(await waitForExit(state.ferret.pid, 5_000))) stopFerretDb(state.ferret, 'SIGKILL');
  }
  await server.stop();
  const file = process.env[STATE_ENV];
  if (file) fs.rmSync(path.dirname(file), { recursive: true, force: true });
}
