import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from './exit-codes';

/** Where to reach uplet and with which key: flags, then the environment, then the config file. */
export interface CliConfig {
  orchestrator: string;
  storage?: string;
  apiKey: string;
}

interface FileConfig {
  orchestrator?: string;
  storage?: string;
  apiKey?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.UPLET_CONFIG ?? path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'uplet', 'config.json');
}

export function readConfigFile(file: string, warn: (line: string) => void): FileConfig {
  if (!fs.existsSync(file)) return {};
  const mode = fs.statSync(file).mode & 0o777;
  if (mode & 0o077) warn(`${file} is readable by others (mode ${mode.toString(8)}); it holds your API key: chmod 600 ${file}`);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as FileConfig;
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`, `fix it or remove it and run \`uplet login\` again`);
  }
}

/** Written with mode 0600 in a 0700 directory: the key is a password. */
export function writeConfigFile(file: string, config: FileConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  fs.chmodSync(file, 0o600);
}

export function resolveConfig(
  flags: { orchestrator?: string; storage?: string },
  warn: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  needStorage = false,
): CliConfig {
  const file = readConfigFile(configPath(env), warn);
  // An empty variable counts as unset.
  const orchestrator = flags.orchestrator || env.UPLET_ORCHESTRATOR_URL || file.orchestrator;
  const storage = flags.storage || env.UPLET_STORAGE_URL || file.storage;
  const apiKey = env.UPLET_API_KEY || file.apiKey;
  if (!orchestrator)
    throw new UsageError('no orchestrator URL', 'pass --orchestrator URL, set UPLET_ORCHESTRATOR_URL, or run `uplet login --orchestrator URL`');
  if (!apiKey) throw new UsageError('no API key', 'set UPLET_API_KEY, or run `uplet login` and type the key (it is never taken on the command line)');
  if (needStorage && !storage)
    throw new UsageError('this command needs the storage gateway', 'pass --storage URL, set UPLET_STORAGE_URL, or run `uplet login --storage URL`');
  for (const [name, url] of [
    ['orchestrator', orchestrator],
    ['storage', storage],
  ] as const) {
    if (url && !/^https?:\/\/[^\s]+$/.test(url))
      throw new UsageError(`the ${name} URL ${JSON.stringify(url)} is not an http(s) URL`, 'give it as http://host:port');
  }
  return { orchestrator, ...(storage ? { storage } : {}), apiKey };
}
