import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { startTestAgent } from '../harness/agent-fixture';
import { todoLearnuplets } from '../harness/seed-scenarios';
import { startTestOrchestrator, TEST_KEYS, type TestOrchestrator } from '../harness/orchestrator-fixture';
import { testAmqpUrl } from '../harness/test-broker';
import { waitFor } from '../harness/system-fixture';
import { ConfigError } from '../../shared/errors/uplet-error';

/** The agent's own faults are loud: a bad key file is a configuration error, a refused key stops it without draining the queues. */
describe('compute agent configuration faults', () => {
  let o: TestOrchestrator;
  beforeAll(async () => void (o = await startTestOrchestrator('agentcfg')));
  afterAll(async () => o?.cleanup());

  test('an unreadable AGENT_API_KEY_FILE is a configuration error naming the file', async () => {
    const missing = path.join(os.tmpdir(), `uplet-no-such-key-${process.pid}`);
    const started = startTestAgent(o.url, 'http://127.0.0.1:9', o.prefix, { AGENT_API_KEY: '', AGENT_API_KEY_FILE: missing });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(`AGENT_API_KEY_FILE ${missing} cannot be read (ENOENT)`);
    const empty = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-key-')), 'key');
    fs.writeFileSync(empty, '\n');
    await expect(startTestAgent(o.url, 'http://127.0.0.1:9', o.prefix, { AGENT_API_KEY: '', AGENT_API_KEY_FILE: empty })).rejects.toThrow(/holds no key/);
  });

  test('a key the orchestrator refuses stops consumption, says so, and leaves the work queued', async () => {
    const [uuid] = await todoLearnuplets(o, 'refused', 1);
    // A real key without the compute role: every claim is 403.
    const agent = await startTestAgent(o.url, 'http://127.0.0.1:9', o.prefix, { AGENT_API_KEY: TEST_KEYS.reader.key });
    try {
      const health = await waitFor(async () => (agent.agent.health().ready ? undefined : agent.agent.health()), 20_000);
      expect(health.reason).toMatch(/refused this agent's key \(403 FORBIDDEN\)/);
      expect((await o.call('reader', 'GET', `/learnuplet/${uuid}`)).body.status).toBe('todo');
      // The message went back to its queue and nobody consumes it any more.
      const conn = await amqp.connect(testAmqpUrl());
      try {
        const ch = await conn.createChannel();
        const q = await waitFor(async () => {
          const info = await ch.checkQueue(`${o.prefix}.learnuplet`);
          return info.messageCount >= 1 && info.consumerCount === 0 ? info : undefined;
        }, 10_000);
        expect(q.messageCount).toBeGreaterThanOrEqual(1);
      } finally {
        await conn.close();
      }
    } finally {
      await agent.cleanup();
    }
  });
});
