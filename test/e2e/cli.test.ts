import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_KEYS, type TestRole } from '../harness/orchestrator-fixture';
import { EXAMPLE_DIR, exampleItem, startTestSystem, type TestSystem } from '../harness/system-fixture';

const BIN = path.join(__dirname, '../../dist/cli/main.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The real `uplet` binary (built dist/, run as a separate process) against a
 * real stack: orchestrator, storage gateway and a compute agent in the sandbox.
 */
describe('the uplet CLI', () => {
  let sys: TestSystem;
  let configFile: string;
  beforeAll(async () => {
    if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
    sys = await startTestSystem('cli', { LEASE_SECONDS: '30', REAPER_INTERVAL_MS: '500' });
    configFile = path.join(sys.work, 'config', 'uplet.json');
  });
  afterAll(async () => sys?.cleanup());

  /** Runs the binary with a role's key in the environment (never on the command line). */
  const uplet = (role: TestRole | null, args: string[], extraEnv: Record<string, string> = {}, stdin?: string): Promise<Run> =>
    new Promise((resolve) => {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        HOME: sys.work,
        UPLET_CONFIG: configFile,
        UPLET_ORCHESTRATOR_URL: sys.o.url,
        UPLET_STORAGE_URL: sys.s.url,
        ...extraEnv,
      };
      if (role) env.UPLET_API_KEY = TEST_KEYS[role].key;
      const child = execFile(process.execPath, [BIN, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
      if (stdin !== undefined) child.stdin!.end(stdin);
      else child.stdin!.end();
    });

  test('a problem from a folder, data, an algo pushed, the chain watched to its end, predictions downloaded', async () => {
    const folder = path.join(sys.work, 'my-problem');
    fs.mkdirSync(path.join(folder, 'test'), { recursive: true });
    fs.cpSync(path.join(EXAMPLE_DIR, 'workflow'), path.join(folder, 'workflow'), { recursive: true });
    for (const t of ['bc-test-0', 'bc-test-1']) fs.copyFileSync(exampleItem(t), path.join(folder, 'test', `${t}.csv`));

    // The organizer here also holds the test data (admin: every role); --json answers are parsed.
    const created = await uplet('admin', ['--json', 'problem', 'create', folder, '--uuid', 'cli-bc', '--size-train', '2']);
    expect(created).toMatchObject({ code: 0 });
    expect(JSON.parse(created.stdout).problem).toMatchObject({ uuid: 'cli-bc', workflow: 'cli-bc-workflow', test_dataset: ['bc-test-0', 'bc-test-1'] });

    const train = ['bc-train-00', 'bc-train-01', 'bc-train-02', 'bc-train-03'].map(exampleItem);
    const pushed = await uplet('provider', ['--json', 'data', 'push', ...train, '--problem', 'cli-bc']);
    expect(pushed.code).toBe(0);
    expect(JSON.parse(pushed.stdout)).toMatchObject({ data: ['bc-train-00', 'bc-train-01', 'bc-train-02', 'bc-train-03'], new_learnuplets: 0 });

    const algo = await uplet('author', [
      'algo',
      'push',
      path.join(EXAMPLE_DIR, 'algo-logreg'),
      '--problem',
      'cli-bc',
      '--uuid',
      'cli-logreg',
      '--name',
      'logreg',
    ]);
    expect(algo.code).toBe(0);
    expect(algo.stdout).toContain('algo cli-logreg posted to cli-bc: 2 learnuplets');

    const watched = await uplet('reader', ['--json', 'watch', 'cli-bc', '--interval', '300', '--timeout', '100']);
    expect(watched.code).toBe(0);
    const state = JSON.parse(watched.stdout);
    expect(state.chains[0].ranks.map((r: { status: string }) => r.status)).toEqual(['done', 'done']);
    expect(state.leaderboard[0]).toMatchObject({ algo: 'cli-logreg', ranks: 2 });

    const human = await uplet('reader', ['leaderboard', 'cli-bc']);
    expect(human.stdout).toMatch(/1\. logreg\s+best 0\.\d{3}\s+rank \d\s+2\/2 done/);

    expect((await uplet('provider', ['data', 'push', exampleItem('bc-predict-0')])).code).toBe(0);
    const out = path.join(sys.work, 'predictions');
    const predicted = await uplet('provider', ['--json', 'predict', 'cli-bc', '--data', 'bc-predict-0', '--out', out, '--timeout', '60']);
    expect(predicted.code).toBe(0);
    const files = JSON.parse(predicted.stdout).files as string[];
    expect(files).toEqual([path.join(out, 'bc-predict-0.predictions')]);
    expect(fs.readFileSync(files[0]!, 'utf8').trim().split('\n').length).toBeGreaterThan(10);
  });

  test('refusals print the API code on one line with what to do, and exit 1', async () => {
    const refused = await uplet('provider', ['algo', 'push', path.join(EXAMPLE_DIR, 'algo-logreg'), '--problem', 'cli-bc', '--uuid', 'cli-x']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^uplet: FORBIDDEN: .* — use a key with the role/);

    const missing = await uplet('reader', ['--json', 'leaderboard', 'no-such-problem']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stderr).error).toMatchObject({ code: 'NOT_FOUND' });

    const badKey = await uplet(null, ['list', 'problems'], { UPLET_API_KEY: 'not-a-key-000000000000' });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/^uplet: UNAUTHENTICATED: .* — check UPLET_API_KEY/);
  });

  test('usage mistakes exit 2, an unreachable service 3', async () => {
    const noOption = await uplet('author', ['algo', 'push', path.join(EXAMPLE_DIR, 'algo-logreg')]);
    expect(noOption.code).toBe(2);
    expect(noOption.stderr).toMatch(/^uplet: USAGE: .*--problem/);
    expect((await uplet('reader', ['leaderboard', 'bad/uuid'])).code).toBe(2);
    expect((await uplet(null, ['list', 'problems'])).stderr).toMatch(/no API key/);
    const down = await uplet('reader', ['list', 'problems'], { UPLET_ORCHESTRATOR_URL: 'http://127.0.0.1:1' });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^uplet: UNREACHABLE: /);
  });

  test('login keeps the key in a 0600 config file, read from stdin; later calls need no key in the environment', async () => {
    const login = await uplet(null, ['--orchestrator', sys.o.url, '--storage', sys.s.url, 'login'], {}, `${TEST_KEYS.reader.key}\n`);
    expect(login.code).toBe(0);
    expect(fs.statSync(configFile).mode & 0o777).toBe(0o600);
    const listed = await uplet(null, ['--json', 'list', 'algos', '--problem', 'cli-bc'], { UPLET_ORCHESTRATOR_URL: '' });
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((a: { uuid: string }) => a.uuid)).toEqual(['cli-logreg']);
  });
});
