/** The live table of the demo: per algo, its chain's ranks by status and the perf so far. */
export interface ChainRow {
  algo: string;
  name: string;
  statuses: string[];
  perfs: Array<number | null>;
  /** The site that runs each rank (where its train data is). */
  sites?: string[];
}

const SYMBOL: Record<string, string> = { done: '█', pending: '▶', todo: '·', waiting: ' ', failed: '✗', canceled: '-' };

export function renderProgress(rows: readonly ChainRow[], elapsedSeconds: number, waiting: readonly string[] = []): string {
  const lines = [`uplet demo — ${elapsedSeconds.toFixed(0)} s   (█ done  ▶ running  · ready  ✗ failed)`];
  const width = Math.max(...rows.map((r) => r.name.length), 4);
  for (const r of rows) {
    const done = r.statuses.filter((s) => s === 'done').length;
    const bar = r.statuses.map((s) => SYMBOL[s] ?? '?').join('');
    const perfs = r.perfs.filter((p): p is number => p !== null);
    const best = perfs.length ? Math.max(...perfs) : null;
    const last = perfs.length ? perfs[perfs.length - 1]! : null;
    lines.push(`  ${r.name.padEnd(width)}  [${bar}] ${String(done).padStart(2)}/${r.statuses.length}  last ${fmt(last)}  best ${fmt(best)}`);
    // Which site runs each rank: the last letter of its name (hospital-a → a), under its cell.
    if (r.sites && r.sites.some((s) => s !== 'default')) lines.push(`  ${'site'.padEnd(width)}   ${r.sites.map((s) => s.slice(-1)).join('')}`);
  }
  for (const w of waiting) lines.push(`  ${w}`);
  return lines.join('\n');
}

function fmt(n: number | null): string {
  return n === null ? '  -  ' : n.toFixed(3);
}
