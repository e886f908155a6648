import fs from 'node:fs';
import Joi from 'joi';
import { ConfigError } from '../errors/uplet-error';

/**
 * Validates `env` against a Joi schema once, at start-up, and returns a frozen
 * object. Every bad or missing value is reported, each on its own line.
 */
export function loadConfig<T extends object>(schema: Joi.ObjectSchema<T>, env: NodeJS.ProcessEnv = process.env): Readonly<T> {
  const { value, error } = schema.validate(env, { abortEarly: false, allowUnknown: true, stripUnknown: true, convert: true });
  if (error) {
    throw new ConfigError(error.details.map((d) => `${d.path.join('.')}: ${d.message.replace(/^"[^"]*" /, '')}`));
  }
  return Object.freeze(value);
}

/** Runs loadConfig and, on failure, prints every problem and exits non-zero (for service mains). */
export function loadConfigOrExit<T extends object>(service: string, schema: Joi.ObjectSchema<T>, env: NodeJS.ProcessEnv = process.env): Readonly<T> {
  try {
    return loadConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${service}: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}

/** Reads a value that may also come from a file, as in `UPLET_API_KEYS` / `UPLET_API_KEYS_FILE`. */
export function readValueOrFile(value: string | undefined, file: string | undefined, name: string): string | undefined {
  if (value !== undefined && value !== '') return value;
  if (file === undefined || file === '') return undefined;
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${name}_FILE: cannot read ${file}: ${(err as Error).message}`]);
  }
}
