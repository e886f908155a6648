import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { ISOLATED_ROOT } from './isolated-root';

const execFileAsync = promisify(execFile);

/** Which isolation measures really work on this machine (tried, not assumed). */
export interface SandboxCapabilities {
  /** bubblewrap: network, PID, IPC, UTS and mount namespaces; only the task's files visible. */
  bubblewrap: boolean;
  /** setpriv as root: run as nobody, no capabilities, no new privileges. */
  setpriv: boolean;
  /** prlimit: CPU, memory, process and file-size limits. */
  prlimit: boolean;
  /** Each missing measure, in words, for the start-up log and the refusal message. */
  missing: string[];
}

/** Tries each measure for real with a harmless command; takes well under a second. */
export async function probeSandbox(): Promise<SandboxCapabilities> {
  const missing: string[] = [];
  const prlimit = await succeeds('/usr/bin/prlimit', ['--nproc=64', '--', '/bin/true']);
  if (!prlimit) missing.push('prlimit (util-linux) is not available: no CPU, memory, process or file-size limits');

  const isRoot = process.getuid?.() === 0;
  const setpriv =
    isRoot && (await outputOf('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs', '/usr/bin/id', '-u'])) === '65534';
  if (!setpriv)
    missing.push(
      isRoot
        ? 'setpriv (util-linux) does not work: cannot drop to an unprivileged user'
        : 'the agent is not root: it cannot drop the sandbox to an unprivileged user (run it as root in its container)',
    );

  let bubblewrap = false;
  if (fs.existsSync('/usr/bin/bwrap')) {
    // The network namespace must show no interface but a loopback.
    const netdev = await outputOf('/usr/bin/bwrap', [...ISOLATED_ROOT, '--', '/bin/cat', '/proc/net/dev']);
    const interfaces = (netdev ?? '')
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]!.trim())
      .filter(Boolean);
    bubblewrap = netdev !== undefined && interfaces.every((i) => i === 'lo');
    if (!bubblewrap)
      missing.push(
        'bubblewrap (bwrap) does not work here: no network, PID or mount isolation (install the bubblewrap package; in a container allow user namespaces or CAP_SYS_ADMIN)',
      );
  } else {
    missing.push('bubblewrap is not installed (/usr/bin/bwrap): no network, PID or mount isolation (apt-get install bubblewrap)');
  }
  return { bubblewrap, setpriv, prlimit, missing };
}

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  return (await outputOf(cmd, args)) !== undefined;
}

async function outputOf(cmd: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { timeout: 5_000, env: {} });
    return stdout.trim();
  } catch {
    return undefined;
  }
}
