import path from 'node:path';
import type { AnyTask, DoneReport, FailedReport, Lease, TaskKind } from '../shared/contracts/work-contract';
import { OrchestratorRequestError, type OrchestratorClient } from '../shared/http/orchestrator-client';
import { sanitizeLogText } from '../shared/contracts/text';
import type { StorageClient } from '../shared/http/storage-client';
import type { Logger } from '../shared/logging/logger';
import type { SandboxLimits } from './sandbox/sandbox-limits';
import type { SandboxCapabilities } from './sandbox/sandbox-probe';
import { LeaseHeartbeat } from './lease-heartbeat';
import { runnerOf } from './task-runners';
import { TaskStepFailed, TaskWorkspace } from './tasks/task-workspace';
import type { EngineSettings } from './training/engine-settings';
import type { WarmWorkerPool } from './training/warm-workers';

export interface RunnerContext {
  orchestrator: OrchestratorClient;
  storage: StorageClient;
  caps: SandboxCapabilities;
  limits: SandboxLimits;
  workDir: string;
  heartbeatIntervalMs: number;
  logger: Logger;
  engine?: EngineSettings;
  warmWorkers?: WarmWorkerPool;
}

export interface RunningTask {
  kind: TaskKind;
  uuid: string;
  lease: Lease;
  /** Stops the task's sandbox now (shutdown past its grace period). */
  abort(): void;
  /** Gives the lease back if the task is still waiting for its slot (the agent is stopping); a started task runs on. */
  abortIfWaiting(): void;
  done: Promise<void>;
}

/**
 * The agent's compute slot for one claimed task. A task may be claimed before a slot is free (the
 * claim's round trip then overlaps the task before it instead of following it); it starts when
 * `wait` grants the slot, and gives its lease back when `wait` does not (timed out, or stopping).
 */
export interface TaskSlot {
  /** True once the slot is this task's; false if it will not be (the task then gives its lease back). */
  wait(signal: AbortSignal): Promise<boolean>;
  /** The task's sandboxed work is over; only storing its outputs remains (the slot may go to the next task). At most once, before `free`. */
  computed?(): void;
  /** The task holds nothing more: called once, after a granted wait, when its outputs are stored or it failed. */
  free(): void;
}

/** Thrown inside the runner when the slot was not granted: the lease goes back, nothing ran. */
class SlotNotGranted extends Error {
  constructor() {
    super('no compute slot came free in time');
    this.name = 'SlotNotGranted';
  }
}

/**
 * Runs one claimed uplet to its report: heartbeats while it works, reports done
 * with the scores, or failed with the reason and the log tail. A task whose
 * lease was lost is not reported (the report would be refused); one stopped by
 * shutdown is released so it runs again at once elsewhere.
 */
export function runClaimedTask(
  ctx: RunnerContext,
  kind: TaskKind,
  uplet: AnyTask,
  lease: Lease,
  blobLocations: Readonly<Record<string, string>> = {},
  options: { claimMs?: number; slot?: TaskSlot } = {},
): RunningTask {
  const { claimMs, slot } = options;
  const logger = ctx.logger.child({ uplet: uplet.uuid, kind, attempt: lease.attempt });
  // The newest capability: each heartbeat brings a fresh one, since a capability expires with its lease term.
  let capability = lease.capability;
  const heartbeat = new LeaseHeartbeat(ctx.orchestrator, kind, uplet.uuid, lease.token, ctx.heartbeatIntervalMs, logger, (renewal) => {
    if (renewal.capability) capability = renewal.capability;
  });
  const shutdown = new AbortController();
  const signal = AbortSignal.any([heartbeat.signal, shutdown.signal]);
  let waiting = true;
  let slotHeld = false;
  // The report and the workspace's removal finish beside the next task: its slot is already free.
  const freeSlot = () => {
    if (!slotHeld) return;
    slotHeld = false;
    slot?.free();
  };

  const done = (async () => {
    let ws: TaskWorkspace | undefined;
    const started = Date.now();
    // Where the attempt's time went, ms from its claim's answer: logged with its end.
    const timeline: Record<string, number> = { ...(claimMs !== undefined ? { claim: claimMs } : {}) };
    const mark = (milestone: string) => {
      timeline[milestone] ??= Date.now() - started;
      if (milestone === 'computed' && slotHeld) slot?.computed?.();
    };
    // Everything from the first heartbeat on sits inside the try: a workspace that cannot be
    // made is a failed attempt, reported, with the heartbeat stopped.
    try {
      heartbeat.start();
      if (slot) {
        slotHeld = await slot.wait(signal);
        if (!slotHeld) throw new SlotNotGranted();
        timeline.slot = Date.now() - started;
      }
      waiting = false;
      signal.throwIfAborted();
      ws = await TaskWorkspace.create(ctx.workDir, `${kind}-${uplet.uuid}-${lease.attempt}`, {
        storage: readingFrom(
          ctx.storage.withCapability(() => capability),
          blobLocations,
        ),
        archiveCache: path.join(ctx.workDir, 'archives'),
        caps: ctx.caps,
        limits: ctx.limits,
        signal,
        ...(ctx.engine ? { engine: ctx.engine } : {}),
        ...(ctx.warmWorkers ? { warmWorkers: ctx.warmWorkers } : {}),
        onMilestone: mark,
      });
      mark('workspace');
      logger.info('task started');
      const report = await runnerOf(kind).run(uplet, lease.attempt, ws, logger);
      mark('stored');
      freeSlot();
      heartbeat.stop();
      if (signal.aborted) throw signal.reason;
      await ctx.orchestrator.report(kind, uplet.uuid, lease.token, report);
      mark('reported');
      logger.info('task done', { seconds: (Date.now() - started) / 1000, ms: timeline, ...('perf' in report ? { perf: report.perf } : {}) });
    } catch (err) {
      heartbeat.stop();
      if (heartbeat.signal.aborted) {
        logger.warn('task abandoned: lease lost', { reason: String(heartbeat.signal.reason) });
      } else if (shutdown.signal.aborted || err instanceof SlotNotGranted) {
        logger.info(err instanceof SlotNotGranted ? 'no slot came free; giving the lease back' : 'task stopped by shutdown; giving the lease back');
        await ctx.orchestrator
          .release(kind, uplet.uuid, lease.token)
          .catch((e: Error) => logger.warn('release failed; the lease will expire instead', { error: e.message }));
      } else {
        const reason = err instanceof TaskStepFailed ? err.message : `agent error: ${(err as Error).message}`;
        const logTail = err instanceof TaskStepFailed ? err.logTail : undefined;
        logger.warn('task failed', { reason });
        const permanent = err instanceof TaskStepFailed && err.permanent;
        await reportFailure(ctx.orchestrator, kind, uplet.uuid, lease.token, reason, logTail, logger, permanent).catch((e: Error) =>
          logger.error('could not report the failure; the lease will expire and the uplet be retried', { error: e.message }),
        );
      }
    } finally {
      waiting = false;
      freeSlot(); // a failed or stopped task: after its failure report or release
      await ws?.remove().catch(() => undefined);
    }
  })();
  const abort = () => shutdown.abort(new Error('agent shutting down'));
  return {
    kind,
    uuid: uplet.uuid,
    lease,
    abort,
    abortIfWaiting: () => {
      if (waiting) abort();
    },
    done,
  };
}

async function sendTo(orchestrator: OrchestratorClient, kind: TaskKind, uuid: string, token: string, report: DoneReport | FailedReport): Promise<void> {
  await orchestrator.report(kind, uuid, token, report);
}

/**
 * Reports a failed attempt with its reason and log tail, made safe to store. A report
 * refused as invalid (400) is sent once more with a minimal ASCII reason: a failure
 * report that fails would leave the uplet to its lease, and its real reason lost.
 */
export async function reportFailure(
  orchestrator: OrchestratorClient,
  kind: TaskKind,
  uuid: string,
  token: string,
  reason: string,
  logTail: string | undefined,
  logger: Logger,
  permanent = false,
): Promise<void> {
  // Cut first, then sanitise: a cut through a surrogate pair is repaired too.
  const safeReason = sanitizeLogText(reason.slice(0, 2_000));
  try {
    await sendTo(orchestrator, kind, uuid, token, {
      status: 'failed',
      reason: safeReason,
      ...(logTail ? { log_tail: sanitizeLogText(logTail.slice(-8_000)) } : {}),
      ...(permanent ? { permanent } : {}),
    });
  } catch (err) {
    if (!(err instanceof OrchestratorRequestError && err.status === 400)) throw err;
    logger.warn('failure report refused; sending a minimal one', { error: err.message });
    const minimal = safeReason.replace(/[^\x20-\x7e]/g, '?').slice(0, 500) || 'the task failed';
    await sendTo(orchestrator, kind, uuid, token, { status: 'failed', reason: minimal, ...(permanent ? { permanent } : {}) });
  }
}

/** Blobs held at other sites are read from their gateways; the rest (this site's) from the agent's own. */
function readingFrom(storage: StorageClient, locations: Readonly<Record<string, string>>): StorageClient {
  return Object.keys(locations).length > 0 ? storage.withLocations(locations) : storage;
}
