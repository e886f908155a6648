import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// The training engine's Python half (compute-agent/training/python) has its own unittest suite;
// this runs it with Debian's Python (the one with scikit-learn, xgboost and Optuna) and fails
// with the suite's output when it fails.
const PYTHON = '/usr/bin/python3';
const root = path.resolve(__dirname, '../../compute-agent/training/python');

describe('training engine (Python)', () => {
  test('unittest suite passes', () => {
    const run = spawnSync(PYTHON, ['-B', '-m', 'unittest', 'discover', '-s', 'tests', '-t', '.'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
      env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' },
    });
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? `\n${run.error.message}` : ''}`;
    if (run.status !== 0) throw new Error(`python unittest exited ${run.status ?? run.signal}:\n${output}`);
    expect(output).toMatch(/\nOK/);
  }, 150_000);
});
