import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/config/load-config';
import { silentLogger, type Logger } from '../../shared/logging/logger';
import { agentSettingsSchema } from '../../compute-agent/config';
import { startComputeAgent, type RunningAgent } from '../../compute-agent/agent-service';
import { TEST_KEYS } from './orchestrator-fixture';
import { testAmqpUrl } from './test-broker';

export interface TestAgent {
  agent: RunningAgent;
  workDir: string;
  cleanup(): Promise<void>;
}

/** A compute agent in this process, on the test file's queues, with the compute key. */
export async function startTestAgent(
  orchestratorUrl: string,
  storageUrl: string,
  prefix: string,
  overrides: Record<string, string> = {},
  logger: Logger = silentLogger(),
): Promise<TestAgent> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-agent-'));
  // An override of '' unsets the default (e.g. AGENT_API_KEY when a test gives AGENT_API_KEY_FILE).
  const env = Object.fromEntries(
    Object.entries({
      ORCHESTRATOR_URL: orchestratorUrl,
      STORAGE_URL: storageUrl,
      AMQP_URL: testAmqpUrl(),
      AMQP_PREFIX: prefix,
      AGENT_API_KEY: TEST_KEYS.compute.key,
      AGENT_NAME: 'test-agent',
      AGENT_WORK_DIR: workDir,
      HEARTBEAT_INTERVAL_MS: '1000',
      SHUTDOWN_GRACE_MS: '2000',
      ...overrides,
    }).filter(([, v]) => v !== ''),
  );
  const settings = loadConfig(agentSettingsSchema, env);
  const agent = await startComputeAgent(settings, logger);
  return {
    agent,
    workDir,
    cleanup: async () => {
      await agent.close();
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}
