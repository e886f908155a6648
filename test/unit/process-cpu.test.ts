import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessCpuMeter } from '../bench/process-cpu';

/** A node process that burns `burnMs` of CPU (CPU time, not wall: a loaded machine only stretches it), sleeps `sleepMs` (so a sample sees its total), then exits. */
function burner(marker: string, burnMs: number, sleepMs: number) {
  const code = `const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }; while (cpu() < ${burnMs}); process.send?.('burnt'); setTimeout(() => {}, ${sleepMs});`;
  return spawn(process.execPath, ['-e', code, marker], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
}

const onLinux = process.platform === 'linux' ? describe : describe.skip;

onLinux('ProcessCpuMeter (the benchmarks CPU split)', () => {
  it("counts a process born in the window whole, and only the window's share of one already running", async () => {
    const marker = `cpu-meter-test-${crypto.randomBytes(4).toString('hex')}`;
    // Burns 600 ms before the window opens, then idles through it: none of that is the window's.
    const before = burner(marker, 600, 30_000);
    let split;
    try {
      await once(before, 'message');
      const meter = new ProcessCpuMeter(50, (_pid, cmdline) => cmdline.includes(marker)).start();
      const during = burner(marker, 500, 300);
      await once(during, 'exit');
      split = meter.stop()!;
    } finally {
      before.kill();
    }
    // Both are node processes other than this one: "other".
    expect(split.other).toBeGreaterThanOrEqual(0.35);
    expect(split.other).toBeLessThan(0.9); // with the 600 ms before the window, it would be over 1 s
    expect(split.benchProcess).toBe(0); // this process is not in the filter
    expect(split.wallSeconds).toBeGreaterThan(0.5);
  });

  it("counts a process outside this one's tree too, though it reads such a process only once a second", async () => {
    const marker = `cpu-meter-test-${crypto.randomBytes(4).toString('hex')}`;
    const go = path.join(os.tmpdir(), `${marker}.go`);
    // A shell starts the burner in the background and exits: the burner is handed to init, as a
    // service is. It waits for the go file (written once the meter runs), burns 500 ms of CPU, then idles.
    const code = `const fs = require('fs'); const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }; const wait = setInterval(() => { if (!fs.existsSync('${go}')) return; clearInterval(wait); const from = cpu(); while (cpu() - from < 500); setTimeout(() => {}, 30000); }, 20);`;
    const shell = spawn('/bin/sh', ['-c', `"${process.execPath}" -e "${code}" ${marker} > /dev/null 2>&1 & echo $!`], { stdio: ['ignore', 'pipe', 'ignore'] });
    // Listened for before anything is awaited: the shell may exit before its output is read.
    const exited = once(shell, 'exit');
    const [out] = (await once(shell.stdout, 'data')) as [Buffer];
    const burner = Number(out.toString().trim());
    try {
      await exited;
      const ticks = () => {
        const stat = fs.readFileSync(`/proc/${burner}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return Number(fields[11]) + Number(fields[12]);
      };
      const before = ticks();
      const meter = new ProcessCpuMeter(50, (_pid, cmdline) => cmdline.includes(marker)).start();
      fs.writeFileSync(go, '');
      while (ticks() - before < 45) await new Promise((r) => setTimeout(r, 50));
      const split = meter.stop()!;
      expect(split.other).toBeGreaterThanOrEqual(0.35);
      expect(split.other).toBeLessThan(0.9);
    } finally {
      process.kill(burner);
      fs.rmSync(go, { force: true });
    }
  });
});
