import { loadConfig } from '../../shared/config/load-config';
import { agentSettingsSchema } from '../../compute-agent/config';
import { ENGINE_SANDBOX, engineEnv } from '../../compute-agent/training/engine-command';
import { runSandboxed } from '../../compute-agent/sandbox/sandboxed-command';
import { probeSandbox, type SandboxCapabilities } from '../../compute-agent/sandbox/sandbox-probe';
import { DEFAULT_LIMITS } from '../../compute-agent/sandbox/sandbox-limits';

/**
 * The engine's numeric environment: its sandbox clears the agent's environment, so OpenBLAS picks
 * its kernels by the CPU unless the operator pins them (TRAINING_BLAS_CORETYPE), which agents on
 * different CPUs need to score a job's trials alike.
 */
describe("the training engine's numeric environment", () => {
  let caps: SandboxCapabilities;
  const KEY = { AGENT_API_KEY: 'compute-key-0000000000000' };
  const VARIABLES = ['OPENBLAS_CORETYPE', 'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'PYTHONPATH'];

  beforeAll(async () => {
    caps = await probeSandbox();
  });

  /** What a sandboxed engine process sees of the variables that choose its numeric kernels. */
  const seenInSandbox = async (env: Record<string, string>) => {
    const result = await runSandboxed(
      {
        argv: ['/usr/bin/python3', '-c', `import json, os; print(json.dumps({k: os.environ.get(k) for k in ${JSON.stringify(VARIABLES)}}))`],
        cwd: '/',
        mounts: [],
        systemPaths: ENGINE_SANDBOX.systemPaths,
        env,
        limits: { ...DEFAULT_LIMITS, wallClockMs: 20_000 },
      },
      caps,
    );
    expect(result.exitCode).toBe(0);
    return JSON.parse(result.stdoutTail.trim()) as Record<string, string | null>;
  };

  test('TRAINING_BLAS_CORETYPE is an OpenBLAS core type name, checked at start-up', () => {
    expect(loadConfig(agentSettingsSchema, KEY).TRAINING_BLAS_CORETYPE).toBeUndefined();
    expect(loadConfig(agentSettingsSchema, { ...KEY, TRAINING_BLAS_CORETYPE: 'Haswell' }).TRAINING_BLAS_CORETYPE).toBe('Haswell');
    expect(() => loadConfig(agentSettingsSchema, { ...KEY, TRAINING_BLAS_CORETYPE: 'Haswell; rm -rf /' })).toThrow(
      /TRAINING_BLAS_CORETYPE must be an OpenBLAS core type name/,
    );
  });

  test("unpinned, the agent's own OPENBLAS_CORETYPE does not reach the engine; pinned, every engine process gets it", async () => {
    const before = process.env.OPENBLAS_CORETYPE;
    process.env.OPENBLAS_CORETYPE = 'Prescott';
    try {
      expect(await seenInSandbox(engineEnv({}))).toEqual({ OPENBLAS_CORETYPE: null, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', PYTHONPATH: null });
      expect(await seenInSandbox(engineEnv({ blasCoreType: 'Nehalem' }))).toMatchObject({ OPENBLAS_CORETYPE: 'Nehalem', OPENBLAS_NUM_THREADS: '1' });
    } finally {
      if (before === undefined) delete process.env.OPENBLAS_CORETYPE;
      else process.env.OPENBLAS_CORETYPE = before;
    }
  });
});
