import fs from 'node:fs';
import type { FerretDbState } from '../../standalone/local-db/ferretdb-process';

/** What global setup started, shared with test workers through a file named in the environment. */
export interface TestServersState {
  /** Template with `{db}` where each test file's own database name goes. */
  mongoUrlTemplate: string;
  serverDescription: string;
  ferret?: FerretDbState;
  postgresDatabase?: string;
  amqpUrl: string;
}

export const STATE_ENV = 'UPLET_TEST_SERVERS_STATE';

export function readState(): TestServersState {
  const file = process.env[STATE_ENV];
  if (!file) throw new Error(`${STATE_ENV} is not set: run the tests through jest (its global setup starts the servers)`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as TestServersState;
}

export function writeState(state: TestServersState): void {
  const file = process.env[STATE_ENV];
  if (!file) throw new Error(`${STATE_ENV} is not set`);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, file);
}
