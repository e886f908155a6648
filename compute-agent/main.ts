import { runService } from '../shared/service-main';
import { startComputeAgent } from './agent-service';
import { agentSettingsSchema } from './config';

runService('compute-agent', agentSettingsSchema, startComputeAgent);
