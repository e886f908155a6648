import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildFerretDb,
  createPostgresDatabase,
  dropPostgresDatabase,
  freePort,
  mongoUrlFor,
  pingMongo,
  startFerretDb,
  stopFerretDb,
  waitForExit,
  type FerretDbState,
} from '../../standalone/local-db/ferretdb-process';
import { ensureServerResponsive } from '../harness/test-database';
import { readState, STATE_ENV, type TestServersState } from '../harness/test-servers-state';

/**
 * The harness restarts a FerretDB that accepts connections but answers nothing
 * (what a deadlocked one does), instead of waiting on it. Checked on a FerretDB
 * of this test's own, frozen with SIGSTOP.
 */
describe('a wedged test database server', () => {
  const pgName = `uplet_wedge_${crypto.randomBytes(3).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-wedge-'));
  const sharedState = process.env[STATE_ENV];
  let ferret: FerretDbState | undefined;

  afterAll(async () => {
    process.env[STATE_ENV] = sharedState;
    const last = fs.existsSync(path.join(dir, 'state.json'))
      ? (JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as TestServersState).ferret
      : ferret;
    for (const f of [ferret, last]) {
      if (!f) continue;
      stopFerretDb(f, 'SIGKILL');
      await waitForExit(f.pid, 5_000);
    }
    await dropPostgresDatabase(pgName).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('is restarted on the same port, and answers again', async () => {
    const binary = await buildFerretDb();
    const backend = await createPostgresDatabase(pgName);
    const port = await freePort();
    ferret = await startFerretDb(binary, backend, port, path.join(dir, 'ferretdb.log'));
    process.env[STATE_ENV] = path.join(dir, 'state.json');
    fs.writeFileSync(
      process.env[STATE_ENV],
      JSON.stringify({ mongoUrlTemplate: mongoUrlFor(port, '{db}'), serverDescription: 'FerretDB (wedge test)', amqpUrl: '', ferret }),
    );

    process.kill(-ferret.pid, 'SIGSTOP');
    expect(await pingMongo(mongoUrlFor(port, 'admin'), 1_000)).toBe(false);
    const started = Date.now();
    await ensureServerResponsive();
    const restarted = readState().ferret!;
    expect(restarted.pid).not.toBe(ferret.pid);
    expect(restarted.port).toBe(port);
    expect(await pingMongo(mongoUrlFor(port, 'admin'), 2_000)).toBe(true);
    process.stderr.write(`wedged FerretDB restarted in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }, 60_000);
});
