import Joi from 'joi';
import { siteName } from '../shared/contracts/sites';
import {
  apiKeySettings,
  capabilitySettings,
  loggingSettings,
  port,
  positiveInt,
  type ApiKeySettings,
  type CapabilitySettings,
  type LoggingSettings,
} from '../shared/config/common-settings';

export interface StorageSettings extends LoggingSettings, ApiKeySettings, CapabilitySettings {
  STORAGE_HOST: string;
  STORAGE_PORT: number;
  STORAGE_DIR: string;
  STORAGE_MAX_BLOB_BYTES: number;
  SHUTDOWN_GRACE_MS: number;
  /** A transfer that moves no byte this long is cut (its temporary file removed). */
  STORAGE_IDLE_TIMEOUT_MS: number;
  /** Content no metadata links to is removed at start once this old. */
  STORAGE_ORPHAN_GRACE_MS: number;
  /** This gateway's site: it serves data only to tasks of this site (their capability names it). */
  SITE: string;
  /** The structured access log (JSON lines); default `<STORAGE_DIR>/access.log`, `off` for none. */
  STORAGE_ACCESS_LOG?: string;
}

export const storageSettingsSchema = Joi.object<StorageSettings>({
  ...loggingSettings,
  ...apiKeySettings,
  ...capabilitySettings,
  STORAGE_HOST: Joi.string().hostname().default('127.0.0.1'),
  STORAGE_PORT: port(8100),
  STORAGE_DIR: Joi.string().min(1).default('./.uplet/blobs'),
  STORAGE_MAX_BLOB_BYTES: positiveInt(5 * 1024 ** 3),
  SHUTDOWN_GRACE_MS: positiveInt(10_000),
  STORAGE_IDLE_TIMEOUT_MS: positiveInt(60_000).min(100).max(3_600_000),
  STORAGE_ORPHAN_GRACE_MS: Joi.number().integer().min(0).default(3_600_000),
  SITE: siteName().default('default'),
  STORAGE_ACCESS_LOG: Joi.string().min(1),
});
