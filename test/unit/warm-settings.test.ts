import { loadConfig } from '../../shared/config/load-config';
import { agentSettingsSchema, warmWorkersFor } from '../../compute-agent/config';

const KEY = { AGENT_API_KEY: 'compute-key-0000000000000' };

describe('warm trial worker settings', () => {
  test('defaults: task slots plus five (left to the agent: six families of one job stay warm on one slot), 60 s idle', () => {
    const s = loadConfig(agentSettingsSchema, KEY);
    expect(s.TRAINING_WARM_WORKERS).toBeUndefined();
    expect(s.TRAINING_WARM_IDLE_SECONDS).toBe(60);
    expect(loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_WORKERS: '0' }).TRAINING_WARM_WORKERS).toBe(0);
    expect([1, 4, 64].map(warmWorkersFor)).toEqual([6, 9, 64]);
    expect(s.TRAINING_WARM_SPARES).toBe(1);
    // Warm workers off: the default spare is moot, not an error.
    expect(loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_WORKERS: '0' }).TRAINING_WARM_SPARES).toBe(1);
    expect(loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_SPARES: '0' }).TRAINING_WARM_SPARES).toBe(0);
    expect(loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_WORKERS: '3', TRAINING_WARM_SPARES: '3' }).TRAINING_WARM_SPARES).toBe(3);
  });

  test('each bad value is refused at start-up, by name', () => {
    const bad = () => loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_WORKERS: '-1', TRAINING_WARM_IDLE_SECONDS: 'soon' });
    expect(bad).toThrow(/TRAINING_WARM_WORKERS: must be greater than or equal to 0/);
    expect(bad).toThrow(/TRAINING_WARM_IDLE_SECONDS: must be a number/);
    expect(() => loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_WORKERS: '65' })).toThrow(/TRAINING_WARM_WORKERS/);
    expect(() => loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_IDLE_SECONDS: '0' })).toThrow(/TRAINING_WARM_IDLE_SECONDS/);
    expect(() => loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_SPARES: '-1' })).toThrow(/TRAINING_WARM_SPARES: must be greater than or equal to 0/);
    expect(() => loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_SPARES: '17' })).toThrow(/TRAINING_WARM_SPARES/);
    expect(() => loadConfig(agentSettingsSchema, { ...KEY, TRAINING_WARM_WORKERS: '2', TRAINING_WARM_SPARES: '3' })).toThrow(
      /TRAINING_WARM_SPARES: must be less than or equal to ref:TRAINING_WARM_WORKERS/,
    );
  });
});
