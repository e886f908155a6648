import type { Logger } from './logging/logger';

/**
 * Runs `tick` every `intervalMs`, never two at once; a failing tick is logged
 * and the next one runs as planned. stop() waits for the tick in progress.
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule();
  }

  /** Runs one tick now (tests and start-up); waits for a tick already running instead of overlapping it. */
  async runOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = this.tick()
      .catch((err: Error) => void this.logger.warn(`${this.name} failed; will retry`, { error: err.message }))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.runOnce().finally(() => this.schedule()), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
