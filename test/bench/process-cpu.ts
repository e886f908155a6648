import fs from 'node:fs';
import os from 'node:os';

/** Where a benchmark's CPU went, in CPU-seconds per kind of process, over one timed window. */
export interface CpuSplit {
  /** The benchmark's own process: in the benches the orchestrator, the agents and the gateway run in it. */
  benchProcess: number;
  /** Sandboxed Python (trial workers, cold engine commands, an Optuna baseline). */
  python: number;
  ferretdb: number;
  postgresql: number;
  rabbitmq: number;
  /** Everything else that ran (bubblewrap, shells, the machine's other services). */
  other: number;
  /** Busy share of all cores over the window, from /proc/stat (1 = every core busy throughout). */
  machineBusy: number;
  wallSeconds: number;
}

type Kind = Exclude<keyof CpuSplit, 'machineBusy' | 'wallSeconds'>;

/** The kind of a process, from its command line. */
function kindOf(pid: number, cmdline: string): Kind {
  if (pid === process.pid) return 'benchProcess';
  if (cmdline.includes('ferretdb')) return 'ferretdb';
  if (cmdline.startsWith('postgres')) return 'postgresql';
  if (/python3?\b/.test(cmdline) && !cmdline.includes('bwrap')) return 'python';
  if (cmdline.includes('rabbit') || cmdline.includes('beam.smp')) return 'rabbitmq';
  return 'other';
}

/** Reads /proc/<pid>/stat through a descriptor kept open: a re-read is a pread, not an open and a close. */
class StatReader {
  private readonly fds = new Map<number, number>();
  private readonly buffer = Buffer.alloc(1024);

  /** utime + stime (fields 14 and 15) in clock ticks, and the parent pid (field 4); undefined once the process is gone. */
  read(pid: number): { ticks: number; ppid: number } | undefined {
    try {
      let fd = this.fds.get(pid);
      if (fd === undefined) {
        fd = fs.openSync(`/proc/${pid}/stat`, 'r');
        this.fds.set(pid, fd);
      }
      const stat = this.buffer.toString('latin1', 0, fs.readSync(fd, this.buffer, 0, this.buffer.length, 0));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { ticks: Number(fields[11]) + Number(fields[12]), ppid: Number(fields[1]) };
    } catch {
      this.forget(pid); // gone meanwhile
      return undefined;
    }
  }

  forget(pid: number): void {
    const fd = this.fds.get(pid);
    if (fd !== undefined) fs.closeSync(fd);
    this.fds.delete(pid);
  }

  close(): void {
    for (const pid of [...this.fds.keys()]) this.forget(pid);
  }
}

function commandLineOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Busy and total CPU ticks of all cores since boot (the first line of /proc/stat; idle and iowait are not busy). */
export function machineTicks(): { busy: number; total: number } {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - cpu[3]! - (cpu[4] ?? 0), total };
}

/** The busy share of all cores between two machineTicks readings; undefined when no tick passed. */
export function busyShare(from: { busy: number; total: number }, to: { busy: number; total: number }): number | undefined {
  return to.total > from.total ? (to.busy - from.busy) / (to.total - from.total) : undefined;
}

/**
 * Samples every process's CPU time from /proc every `everyMs` while a timed run goes on, so the
 * report says which process the run's CPU went to (on 2 cores, the limit of most figures). A
 * process counts from its first sample: what it used before the window (a spare's imports) is
 * not the run's. A process that exits between two samples loses at most `everyMs` of its CPU.
 * The machine's other long-lived services (neither this process's descendants nor the database or
 * the broker) are read every RARE_EVERY samples only: reading every process's stat ten times a
 * second cost this process about 4 % of a core (200 ms of CPU in 5 s, 84 processes), taken from
 * the run it measures.
 * Linux only; elsewhere `stop()` answers undefined.
 */
export class ProcessCpuMeter {
  private readonly seen = new Map<number, { kind: Kind; first: number; last: number; bornInWindow: boolean; rare: boolean }>();
  /** Pids not counted (`counts` said no), so their command line is read once. */
  private readonly skipped = new Set<number>();
  /** This process and the processes it started, down the tree (the agents' sandboxes among them). */
  private readonly family = new Set<number>([process.pid]);
  private readonly stats = new StatReader();
  private samples = 0;
  private timer?: NodeJS.Timeout;
  private started = 0;
  private machineAtStart?: { busy: number; total: number };
  private readonly ticksPerSecond = 100; // USER_HZ: 100 on every Linux the benchmarks run on

  /** `counts`: which processes to count (default all), from their pid and command line. */
  constructor(
    private readonly everyMs = 100,
    private readonly counts: (pid: number, cmdline: string) => boolean = () => true,
  ) {}

  start(): this {
    if (!fs.existsSync('/proc/stat')) return this;
    this.started = performance.now();
    this.machineAtStart = machineTicks();
    this.sample(false);
    this.timer = setInterval(() => this.sample(true), this.everyMs);
    return this;
  }

  stop(): CpuSplit | undefined {
    if (!this.machineAtStart) return undefined;
    clearInterval(this.timer);
    this.sample(true, true);
    this.stats.close();
    const machine = machineTicks();
    const split: CpuSplit = {
      benchProcess: 0,
      python: 0,
      ferretdb: 0,
      postgresql: 0,
      rabbitmq: 0,
      other: 0,
      machineBusy: busyShare(this.machineAtStart, machine) ?? 0,
      wallSeconds: (performance.now() - this.started) / 1000,
    };
    // A process first seen after the start was born in the window: all its CPU is the run's.
    for (const p of this.seen.values()) split[p.kind] += (p.last - (p.bornInWindow ? 0 : p.first)) / this.ticksPerSecond;
    for (const k of Object.keys(split) as Array<keyof CpuSplit>) split[k] = Math.round(split[k] * 1000) / 1000;
    return split;
  }

  private sample(inWindow: boolean, everyProcess = false): void {
    let pids: number[];
    try {
      pids = fs
        .readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .map(Number);
    } catch {
      return;
    }
    const rareToo = everyProcess || this.samples++ % RARE_EVERY === 0;
    for (const pid of pids) {
      if (this.skipped.has(pid)) continue;
      const known = this.seen.get(pid);
      if (known?.rare && !rareToo) continue;
      const read = this.stats.read(pid);
      if (read === undefined) continue;
      if (known) {
        known.last = read.ticks;
        continue;
      }
      // Pids ascend with age, so a parent is met before its children (a wrapped pid counts as a service).
      if (this.family.has(read.ppid)) this.family.add(pid);
      const cmdline = commandLineOf(pid);
      if (cmdline === undefined) continue;
      if (!this.counts(pid, cmdline)) {
        this.skipped.add(pid);
        this.stats.forget(pid);
        continue;
      }
      const kind = kindOf(pid, cmdline);
      const rare = kind === 'other' && !this.family.has(pid);
      this.seen.set(pid, { kind, first: read.ticks, last: read.ticks, bornInWindow: inWindow, rare });
    }
  }
}

/** The machine's other services are read once every this many samples (once a second at 100 ms). */
const RARE_EVERY = 10;

/** One line for a log: CPU-seconds by process kind, and how busy the machine's cores were. */
export function describeCpuSplit(split: CpuSplit | undefined): string {
  if (!split) return 'CPU split: not measured (no /proc)';
  const parts = (['python', 'benchProcess', 'ferretdb', 'postgresql', 'rabbitmq', 'other'] as const).map((k) => `${k} ${split[k].toFixed(1)}`);
  return `CPU-s over ${split.wallSeconds.toFixed(1)} s: ${parts.join(', ')}; cores busy ${(split.machineBusy * 100).toFixed(0)}% of ${os.cpus().length}`;
}
