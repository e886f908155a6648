/**
 * Finished trials of recently viewed jobs, in this process's memory. A trial that is done, failed
 * or canceled never changes again (its settlement is fenced), so a copy stays right for as long
 * as it is kept: a job's view then reads only what may still change, its rows' open rounds
 * (TrainingEngine.viewTrials), instead of every trial at each poll (on FerretDB a 1,000-trial
 * job's whole read is ~0.9 s, and the dashboard polls a running job every 2 s).
 * Nothing here is shared between processes: each orchestrator fills its own copy from the
 * database, so several orchestrators stay correct.
 */
export class FinishedTrials<T extends { _id: string }> {
  /** Per job, most recently used last. */
  private readonly jobs = new Map<string, Map<string, T>>();
  private kept = 0;

  /** `maxTrials`: trials kept over all jobs; the least recently viewed jobs are forgotten whole beyond it. */
  constructor(private readonly maxTrials: number) {}

  /** The job's finished trials by id, or undefined when none is kept (its view must read every trial). */
  of(job: string): ReadonlyMap<string, T> | undefined {
    const known = this.jobs.get(job);
    if (known) {
      this.jobs.delete(job);
      this.jobs.set(job, known);
    }
    return known;
  }

  /** Keeps these finished trials of the job (and marks the job as known, even with none yet). */
  remember(job: string, finished: readonly T[]): void {
    const known = this.jobs.get(job) ?? new Map<string, T>();
    this.jobs.delete(job);
    this.jobs.set(job, known);
    for (const trial of finished) {
      if (!known.has(trial._id)) this.kept++;
      known.set(trial._id, trial);
    }
    for (const [other, trials] of this.jobs) {
      if (this.kept <= this.maxTrials || other === job) break;
      this.jobs.delete(other);
      this.kept -= trials.size;
    }
  }

  /** Trials kept over all jobs (for tests). */
  get size(): number {
    return this.kept;
  }
}
