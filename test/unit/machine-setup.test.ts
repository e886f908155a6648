import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.join(__dirname, '../../standalone/setup-machine.sh');

/**
 * The setup step on a machine that lacks bubblewrap and the scientific Python, with apt-get
 * replaced by a recorder that "installs" by creating the files the checks look for.
 */
describe('machine setup', () => {
  let dir: string;
  let fakeBwrap: string;
  let fakeChromium: string;
  let aptLog: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-setup-'));
    fakeBwrap = path.join(dir, 'bwrap');
    fakeChromium = path.join(dir, 'chromium');
    aptLog = path.join(dir, 'apt.log');
    const sciencePresent = path.join(dir, 'science-installed');
    fs.writeFileSync(
      path.join(dir, 'apt-get'),
      [
        '#!/bin/sh',
        `echo "$@" >> ${aptLog}`,
        `case " $* " in *" bubblewrap "*) printf '#!/bin/sh\\n' > ${fakeBwrap}; chmod +x ${fakeBwrap};; esac`,
        `case " $* " in *" python3-sklearn "*) touch ${sciencePresent};; esac`,
        `case " $* " in *" chromium "*) printf '#!/bin/sh\\n' > ${fakeChromium}; chmod +x ${fakeChromium};; esac`,
      ].join('\n'),
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(dir, 'python3'), `#!/bin/sh\ntest -e ${sciencePresent}\n`, { mode: 0o755 });
    env = {
      ...process.env,
      UPLET_SETUP_APT_GET: path.join(dir, 'apt-get'),
      UPLET_SETUP_BWRAP: fakeBwrap,
      UPLET_SETUP_PYTHON: path.join(dir, 'python3'),
      UPLET_SETUP_CHROMIUM: fakeChromium,
      UPLET_SETUP_AS_ROOT: '1',
      // A database is given, so the step neither starts PostgreSQL nor builds FerretDB here.
      MONGO_URL: 'mongodb://127.0.0.1:1/unused',
    };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = (extra: NodeJS.ProcessEnv = {}) => spawnSync('bash', [SCRIPT], { env: { ...env, ...extra }, encoding: 'utf8' });
  const aptCalls = () => (fs.existsSync(aptLog) ? fs.readFileSync(aptLog, 'utf8').trim().split('\n') : []);

  test('as root with apt-get: installs what is missing once, says so, and a second run installs nothing', () => {
    const first = run();
    expect(first.stderr).toContain('installing bubblewrap python3-sklearn python3-xgboost python3-optuna python3-pandas chromium with apt-get');
    expect(first.status).toBe(0);
    expect(aptCalls()).toEqual(['install -y -q --no-install-recommends bubblewrap python3-sklearn python3-xgboost python3-optuna python3-pandas chromium']);

    const second = run();
    expect(second.status).toBe(0);
    expect(second.stderr).not.toContain('installing');
    expect(aptCalls()).toHaveLength(1);
  });

  test('without root: prints the exact command and exits 69, installing nothing', () => {
    const result = run({ UPLET_SETUP_AS_ROOT: '0' });
    expect(result.status).toBe(69);
    expect(result.stderr).toContain('run, as root:  apt-get install -y bubblewrap python3-sklearn python3-xgboost python3-optuna python3-pandas chromium');
    expect(result.stderr).toContain('UPLET_SETUP_BROWSER=0 skips it');
    expect(aptCalls()).toEqual([]);
  });

  test('UPLET_SETUP_BROWSER=0 leaves the browser out', () => {
    const result = run({ UPLET_SETUP_BROWSER: '0' });
    expect(result.status).toBe(0);
    expect(aptCalls()).toEqual(['install -y -q --no-install-recommends bubblewrap python3-sklearn python3-xgboost python3-optuna python3-pandas']);
    expect(fs.existsSync(fakeChromium)).toBe(false);
    expect(result.stderr).toContain('no browser (UPLET_SETUP_BROWSER=0)');
  });

  test('a broker that does not answer is named, with how to start one', () => {
    const result = run({ AMQP_URL: 'amqp://guest:guest@127.0.0.1:1' });
    expect(result.status).toBe(69);
    expect(result.stderr).toContain('no message broker answers on 127.0.0.1:1');
  });
});
