import fs from 'node:fs';
import path from 'node:path';

/**
 * The gateway's structured access log: one JSON line per blob read or write (granted or
 * refused), naming who, which blob, with which capability (its task, attempt and site) and the
 * answer. It is what proves where a site's data went: the demo reads it to show that no
 * hospital's data was read by another hospital's agent.
 */
export interface AccessEntry {
  at: string;
  /** The gateway's own site. */
  gateway_site: string;
  action: 'read' | 'write';
  kind: string;
  uuid: string;
  principal: string;
  /** The site named by the capability presented (absent: none presented). */
  capability_site?: string;
  uplet?: string;
  attempt?: number;
  status: number;
  /** Why it was refused. */
  reason?: string;
}

export class AccessLog {
  private readonly stream?: fs.WriteStream;

  constructor(file: string | undefined) {
    if (!file) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.stream = fs.createWriteStream(file, { flags: 'a', mode: 0o600 });
    this.stream.on('error', () => undefined);
  }

  record(entry: Omit<AccessEntry, 'at'>): void {
    this.stream?.write(`${JSON.stringify({ at: new Date().toISOString(), ...entry })}\n`);
  }

  async close(): Promise<void> {
    const s = this.stream;
    if (s) await new Promise<void>((resolve) => s.end(resolve));
  }
}

/** Reads an access log (the demo and the tests). */
export function readAccessLog(file: string): AccessEntry[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AccessEntry);
}
