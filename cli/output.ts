import { UnreachableError, WaitError, isApiError } from '../shared/sdk/errors';
import { EXIT, UsageError } from './exit-codes';

/** Human output on a terminal, JSON for scripts (`--json`); errors always on stderr, in one line. */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly out = process.stdout,
    private readonly err = process.stderr,
  ) {}

  get interactive(): boolean {
    return !this.json && Boolean(this.err.isTTY);
  }

  /** The command's result: `human` lines on a terminal, the value as JSON with --json. */
  result(value: unknown, human: () => string): void {
    this.out.write(this.json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
  }

  info(line: string): void {
    if (!this.json) this.err.write(`${line}\n`);
  }

  warn(line: string): void {
    this.err.write(`uplet: warning: ${line}\n`);
  }

  /** A progress line redrawn in place on a terminal; nothing otherwise. */
  progress(line: string): void {
    if (this.interactive) this.err.write(`\r\x1b[2K${line}`);
  }

  endProgress(): void {
    if (this.interactive) this.err.write('\r\x1b[2K');
  }

  /** Prints the error in one line with what to do, and returns the exit code it means. */
  fail(error: unknown): number {
    const { code, exit, message, hint, details } = describe(error);
    if (this.json) this.err.write(`${JSON.stringify({ error: { code, message, ...(details === undefined ? {} : { details }), hint } })}\n`);
    else this.err.write(`uplet: ${code}: ${message.replace(/\s+/g, ' ')}${hint ? ` — ${hint}` : ''}\n`);
    return exit;
  }
}

const HINTS: Record<string, string> = {
  UNAUTHENTICATED: 'check UPLET_API_KEY or run `uplet login` with a valid key',
  FORBIDDEN: 'use a key with the role this call needs, or act on your own resources',
  NOT_FOUND: 'check the uuid (`uplet list <collection>` shows what exists)',
  VALIDATION_FAILED: 'fix the field named above and retry',
  CONFLICT: 'it exists already or its state does not allow this; use another uuid or look at it with `uplet list`',
  UNPROCESSABLE: 'the request is well-formed but not acceptable: see the message',
  PAYLOAD_TOO_LARGE: 'send less: split the list or the file',
  DEPENDENCY_UNAVAILABLE: "the server's database or broker is down; retry later",
};

function describe(error: unknown): { code: string; exit: number; message: string; hint?: string; details?: unknown } {
  if (error instanceof UsageError) return { code: 'USAGE', exit: EXIT.USAGE, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  if (isApiError(error)) {
    // The clients prefix "orchestrator: POST /x: 403 "; keep the server's own words.
    const message = error.message.replace(/^[a-z ]+: [A-Z]+ \S+: \d{3} /, '');
    return {
      code: error.code,
      exit: EXIT.REFUSED,
      message: `${message} (HTTP ${error.status})`,
      hint: HINTS[error.code] ?? 'see the message',
      details: error.details,
    };
  }
  if (error instanceof UnreachableError)
    return {
      code: 'UNREACHABLE',
      exit: EXIT.UNREACHABLE,
      message: error.message,
      hint: 'check the URL (--orchestrator/--storage, UPLET_*_URL) and that the service runs',
    };
  if ((error as { code?: string })?.code === 'DIGEST_MISMATCH')
    return {
      code: 'DIGEST_MISMATCH',
      exit: EXIT.INTEGRITY,
      message: (error as Error).message,
      hint: 'retry the transfer; if it repeats, the stored blob is damaged',
    };
  if (error instanceof WaitError)
    return {
      code: error.code,
      exit: EXIT.WORK_FAILED,
      message: error.message,
      hint: error.code === 'TIMEOUT' ? 'wait longer (--timeout) or watch it with `uplet watch`' : 'see the reasons above; `uplet list` shows each document',
    };
  const e = error as { code?: string; message?: string };
  if (e?.code === 'ENOENT' || e?.code === 'EACCES') return { code: e.code, exit: EXIT.USAGE, message: e.message ?? String(error), hint: 'check the path' };
  return { code: 'INTERNAL', exit: 1, message: e?.message ?? String(error), hint: "this is a bug of uplet's CLI; please report it" };
}
