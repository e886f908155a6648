import { loadConfig } from '../../shared/config/load-config';
import { agentSettingsSchema } from '../../compute-agent/config';

const KEY = { AGENT_API_KEY: 'compute-key-0000000000000' };

describe("the agent's name (recorded as its uplets' worker)", () => {
  test('a printable name is taken as given', () => {
    expect(loadConfig(agentSettingsSchema, { ...KEY, AGENT_NAME: 'node-7.lab' }).AGENT_NAME).toBe('node-7.lab');
  });

  test("the orchestrator's own prefix is refused at start-up, by name, in any case", () => {
    for (const name of ['uplet:cancellation', 'Uplet:node'])
      expect(() => loadConfig(agentSettingsSchema, { ...KEY, AGENT_NAME: name })).toThrow(/AGENT_NAME: must not start with "uplet:"/);
  });
});
