import { runService } from '../shared/service-main';
import { orchestratorSettingsSchema } from './config';
import { startOrchestrator } from './orchestrator-service';

runService('orchestrator', orchestratorSettingsSchema, startOrchestrator);
