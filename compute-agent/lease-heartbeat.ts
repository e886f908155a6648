import type { Logger } from '../shared/logging/logger';
import type { LeaseTerms, TaskKind } from '../shared/contracts/work-contract';
import { OrchestratorRequestError } from '../shared/http/orchestrator-client';

/** What the heartbeat needs of the orchestrator client. */
export interface HeartbeatPort {
  heartbeat(kind: TaskKind, uuid: string, token: string): Promise<LeaseTerms | void>;
}

/**
 * Extends one lease at an interval while its task runs. When the orchestrator
 * says the lease is lost (expired, settled by someone else), the task is
 * aborted: its work would be refused anyway, and must not run twice.
 */
export class LeaseHeartbeat {
  private timer?: NodeJS.Timeout;
  private readonly controller = new AbortController();

  constructor(
    private readonly port: HeartbeatPort,
    private readonly kind: TaskKind,
    private readonly uuid: string,
    private readonly token: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    /** Called with each renewal: its fresh capability replaces the one that expires with the old lease term. */
    private readonly onRenew: (renewal: LeaseTerms) => void = () => undefined,
  ) {}

  /** Aborted when the lease is lost. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  start(): void {
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async beat(): Promise<void> {
    try {
      const renewal = await this.port.heartbeat(this.kind, this.uuid, this.token);
      if (renewal) this.onRenew(renewal);
    } catch (err) {
      if (err instanceof OrchestratorRequestError && err.status === 409) {
        this.logger.warn('lease lost; stopping the task', { uplet: this.uuid, code: err.code });
        this.stop();
        this.controller.abort(new Error(`lease lost (${err.code})`));
      } else {
        // The orchestrator is unreachable: keep working and keep trying; the lease may still hold.
        this.logger.warn('heartbeat failed; will retry', { uplet: this.uuid, error: (err as Error).message });
      }
    }
  }
}
