import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../shared/errors/uplet-error';
import type { TeacherClientSettings } from './teacher-client';

/** Where the training engine's Python and package are on this node. */
export interface EngineSettings {
  python: string;
  /** The directory holding the `uplet_training` package (compute-agent/training/python). */
  dir: string;
  /** How this node asks a teacher URL (distillation). */
  teacher: TeacherClientSettings;
  /** OPENBLAS_CORETYPE in the engine's sandbox (TRAINING_BLAS_CORETYPE); unset, OpenBLAS picks its kernels by the CPU. */
  blasCoreType?: string;
}

/**
 * The package ships with the agent's sources (compute-agent/training/python); the build does not
 * copy it, so from dist/ it is found back in the repository beside dist.
 */
const CANDIDATES = [path.join(__dirname, 'python'), path.join(__dirname, '../../../compute-agent/training/python')];

/** TRAINING_PYTHON and TRAINING_ENGINE_DIR checked at start-up (ConfigError naming what is missing). */
export function resolveEngineSettings(settings: {
  TRAINING_PYTHON: string;
  TRAINING_ENGINE_DIR?: string;
  TRAINING_BLAS_CORETYPE?: string;
  TEACHER_BATCH_ROWS: number;
  TEACHER_TIMEOUT_MS: number;
  TEACHER_MAX_RESPONSE_BYTES: number;
  TEACHER_RETRIES: number;
}): EngineSettings {
  const problems: string[] = [];
  const dir = settings.TRAINING_ENGINE_DIR ? path.resolve(settings.TRAINING_ENGINE_DIR) : CANDIDATES.find(isEngineDir);
  if (!dir || !isEngineDir(dir)) problems.push(`TRAINING_ENGINE_DIR: no uplet_training package at ${dir ?? CANDIDATES.join(' or ')}`);
  try {
    fs.accessSync(settings.TRAINING_PYTHON, fs.constants.X_OK);
  } catch {
    problems.push(`TRAINING_PYTHON: ${settings.TRAINING_PYTHON} is not an executable file`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    python: settings.TRAINING_PYTHON,
    dir: dir!,
    teacher: {
      batchRows: settings.TEACHER_BATCH_ROWS,
      timeoutMs: settings.TEACHER_TIMEOUT_MS,
      maxResponseBytes: settings.TEACHER_MAX_RESPONSE_BYTES,
      retries: settings.TEACHER_RETRIES,
    },
    ...(settings.TRAINING_BLAS_CORETYPE ? { blasCoreType: settings.TRAINING_BLAS_CORETYPE } : {}),
  };
}

function isEngineDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'uplet_training', '__main__.py'));
}
