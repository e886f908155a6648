import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** A service run as its own process from the build (`npm test` builds first), as in production. */
export interface ServiceProcess {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Peak resident memory so far (VmHWM), in bytes. */
  peakRssBytes(): number;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export const REPO_ROOT = path.resolve(__dirname, '../..');

export function startServiceProcess(entry: string, env: Record<string, string>): ServiceProcess {
  const script = path.join(REPO_ROOT, 'dist', entry);
  if (!fs.existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` (npm test does it first)`);
  const child = spawn(process.execPath, [script], { env: { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    child,
    pid: child.pid ?? -1,
    output: () => out,
    peakRssBytes: () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : NaN;
    },
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

export async function waitForHttp(url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
