import { runService } from '../shared/service-main';
import { storageSettingsSchema } from './config';
import { startStorageGateway } from './storage-service';

runService('storage-gateway', storageSettingsSchema, startStorageGateway);
