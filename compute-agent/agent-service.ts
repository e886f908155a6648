import fs from 'node:fs';
import path from 'node:path';
import { parseWorkMessage, TASK_KINDS, type AnyTask, type Lease, type TaskKind } from '../shared/contracts/work-contract';
import { endedJobOf } from '../shared/contracts/events-contract';
import { OrchestratorClient, OrchestratorRequestError } from '../shared/http/orchestrator-client';
import { StorageClient } from '../shared/http/storage-client';
import { ConfigError } from '../shared/errors/uplet-error';
import type { Logger } from '../shared/logging/logger';
import { AmqpBroker, type Delivery } from '../shared/messaging/amqp-broker';
import { queueFor, workTopology } from '../shared/messaging/work-topology';
import { warmWorkersFor, type AgentSettings } from './config';
import { probeSandbox, type SandboxCapabilities } from './sandbox/sandbox-probe';
import type { SandboxLimits } from './sandbox/sandbox-limits';
import { privateDirMode } from './tasks/task-workspace';
import { runClaimedTask, type RunnerContext, type RunningTask } from './work-runner';
import { ComputeSlots } from './work-slots';
import { resolveEngineSettings, type EngineSettings } from './training/engine-settings';
import { WarmWorkerPool, type WarmKey } from './training/warm-workers';

export interface RunningAgent {
  caps: SandboxCapabilities;
  /** Not ready when the orchestrator refused this agent's key: it consumes nothing until restarted with a good one. */
  health(): { ready: boolean; reason?: string };
  /** Tasks running now. */
  running(): number;
  /** Live warm trial workers (for tests and logs). */
  warmWorkers(): Array<{ id: string; pid: number; key: WarmKey; busy: boolean; served: number; spare: boolean }>;
  /** Spare warm workers not yet taken (for tests and logs). */
  warmSpares(): Array<{ id: string; pid: number }>;
  close(): Promise<void>;
}

/** How long a delivery may wait for a free slot before it goes back to the queue. */
const SLOT_WAIT_MS = 60_000;

/**
 * The compute agent: consumes both work queues, claims each uplet through the
 * orchestrator, acks the message as soon as the claim is decided (a long
 * training never holds an unacked delivery), and runs the work in the sandbox.
 */
function readKeyFile(file: string): string {
  let key: string;
  try {
    key = fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError([`AGENT_API_KEY_FILE ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  if (key.length < 16) throw new ConfigError([`AGENT_API_KEY_FILE ${file} holds ${key.length === 0 ? 'no key' : 'a key shorter than 16 characters'}`]);
  return key;
}

export async function startComputeAgent(settings: AgentSettings, logger: Logger): Promise<RunningAgent> {
  const apiKey = settings.AGENT_API_KEY ?? readKeyFile(settings.AGENT_API_KEY_FILE!);
  const caps = await probeSandbox();
  if (caps.missing.length > 0) {
    if (!settings.SANDBOX_ALLOW_UNSAFE) {
      throw new ConfigError([
        `the sandbox is incomplete on this machine, so the agent refuses to run untrusted code:\n    ${caps.missing.join('\n    ')}\n  Fix the above, or set SANDBOX_ALLOW_UNSAFE=true to run without these measures (trusted code only).`,
      ]);
    }
    logger.warn('SANDBOX_ALLOW_UNSAFE=true: running untrusted code WITHOUT these isolation measures', { missing: caps.missing });
  } else {
    logger.info('sandbox ready: network, PID and mount namespaces (bubblewrap), user nobody (setpriv), rlimits (prlimit)');
  }

  const limits: SandboxLimits = {
    cpuSeconds: settings.SANDBOX_CPU_SECONDS,
    memoryBytes: settings.SANDBOX_MEMORY_MB * 1024 ** 2,
    maxProcesses: settings.SANDBOX_MAX_PROCESSES,
    maxFileBytes: settings.SANDBOX_MAX_FILE_MB * 1024 ** 2,
    wallClockMs: settings.SANDBOX_TIMEOUT_SECONDS * 1000,
    logBytes: settings.SANDBOX_LOG_KB * 1024,
  };
  const orchestrator = new OrchestratorClient({ baseUrl: settings.ORCHESTRATOR_URL, apiKey });
  const storage = new StorageClient({ baseUrl: settings.STORAGE_URL, apiKey });
  const workDir = path.resolve(settings.AGENT_WORK_DIR);
  fs.mkdirSync(workDir, { recursive: true, mode: privateDirMode(caps) });
  fs.chmodSync(workDir, privateDirMode(caps));
  // Checked at start-up: a node that cannot run the engine says so now, not at its first trial.
  const engine = resolveEngineSettings(settings);
  const warmWorkers = warmPool(settings, { caps, limits, engine, workDir, logger });
  const ctx: RunnerContext = {
    orchestrator,
    storage,
    caps,
    limits,
    workDir,
    heartbeatIntervalMs: settings.HEARTBEAT_INTERVAL_MS,
    logger,
    engine,
    ...(warmWorkers ? { warmWorkers } : {}),
  };

  const site = settings.SITE ?? 'default';
  // An agent declares and consumes only its own site's queues: the work whose data is here.
  const topology = workTopology(settings.AMQP_PREFIX, [site]);
  const broker = new AmqpBroker({
    url: settings.AMQP_URL,
    topology,
    logger,
    connectionName: `uplet-agent-${settings.AGENT_NAME}@${settings.AMQP_PREFIX}`,
    initialMaxRetries: Infinity,
  });
  const tasks = new Set<RunningTask>();
  let stopping = false;
  const slots = new ComputeSlots(settings.AGENT_CONCURRENCY, SLOT_WAIT_MS, () => stopping);
  let refusedKey: string | undefined;

  /**
   * A refused key (401/403) is a configuration fault, not a verdict on the work: dropping the
   * message would silently drain the queues. Stop consuming and keep every message queued.
   */
  const refuseToContinue = (err: OrchestratorRequestError): void => {
    if (refusedKey) return;
    refusedKey = `the orchestrator refused this agent's key (${err.status} ${err.code}): ${err.message}`;
    logger.error(
      "claim refused for the agent's key; no longer consuming work, messages stay queued. Fix AGENT_API_KEY (a key with the compute role) and restart",
      { status: err.status, code: err.code },
    );
    void broker.stopConsuming().catch((e: Error) => logger.warn('could not cancel consumers', { error: e.message }));
  };

  const onDelivery =
    (kind: TaskKind) =>
    async (delivery: Delivery): Promise<void> => {
      const message = parseWorkMessage(delivery.content);
      if (!message || message.type !== kind) {
        logger.warn('malformed work message sent to the dead-letter queue', { body: delivery.content.toString('utf8').slice(0, 200) });
        return delivery.deadLetter();
      }
      // A claim may run ahead of a free slot (at most one per slot): its round trip then overlaps the running task.
      if (stopping || refusedKey || !(await slots.reserveClaim())) return delivery.requeue();
      let claimed: { task: AnyTask; lease: Lease; blobLocations: Record<string, string> };
      const claimStarted = Date.now();
      try {
        claimed = await orchestrator.claim(kind, message.uuid, settings.AGENT_NAME, site);
      } catch (err) {
        slots.cancelClaim();
        if (err instanceof OrchestratorRequestError && err.code === 'WRONG_SITE') {
          // Not ours (a misrouted message): the sweeper republishes it to its own site's queue.
          logger.warn('work of another site refused; message dropped', { uplet: message.uuid });
          return delivery.ack();
        }
        if (err instanceof OrchestratorRequestError && (err.status === 401 || err.status === 403)) {
          refuseToContinue(err);
          return delivery.requeue();
        }
        if (err instanceof OrchestratorRequestError) {
          // Not todo any more, or someone else won: the message has done its job.
          logger.debug('claim refused; message dropped', { uplet: message.uuid, code: err.code });
          return delivery.ack();
        }
        // The orchestrator is unreachable: back off, then let the message be redelivered.
        logger.warn('claim failed; message goes back to the queue', { uplet: message.uuid, error: (err as Error).message });
        await new Promise((r) => setTimeout(r, 2_000));
        return delivery.requeue();
      }
      delivery.ack();
      // Training work on this agent: its spare warm workers start importing now (a profile comes before a study's trials).
      if (kind !== 'learnuplet' && kind !== 'preduplet') warmWorkers?.warmUp();
      const task = runClaimedTask(ctx, kind, claimed.task, claimed.lease, claimed.blobLocations, {
        claimMs: Date.now() - claimStarted,
        slot: slots.slotForClaimed(),
      });
      tasks.add(task);
      void task.done.finally(() => tasks.delete(task));
    };

  await broker.start();
  for (const kind of TASK_KINDS) await broker.consume(queueFor(topology, kind, site), settings.AGENT_CONCURRENCY, onDelivery(kind));
  // A job's end, announced by whichever orchestrator replica ended it, retires its warm workers
  // here at once: they hold its dataset, and its final task may run on another agent (a missed
  // event leaves them to TRAINING_WARM_IDLE_SECONDS).
  if (warmWorkers)
    await broker.subscribe(topology.eventsExchange, 'job.*', (content) => {
      const job = endedJobOf(content);
      if (job) warmWorkers.retireJob(job);
    });
  // A sign of life every heartbeat interval (claims count too): GET /sites shows the site's live agents.
  const ping = () => void orchestrator.ping(site, settings.AGENT_NAME).catch((e: Error) => logger.debug('site ping failed', { error: e.message }));
  ping();
  const pinger = setInterval(ping, settings.HEARTBEAT_INTERVAL_MS);
  pinger.unref();
  logger.info('compute agent ready', { name: settings.AGENT_NAME, site, concurrency: settings.AGENT_CONCURRENCY, workDir });

  let closing: Promise<void> | undefined;
  return {
    caps,
    health: () => (refusedKey ? { ready: false, reason: refusedKey } : { ready: true }),
    running: () => tasks.size,
    warmWorkers: () => warmWorkers?.list() ?? [],
    warmSpares: () => warmWorkers?.listSpares() ?? [],
    close: () =>
      (closing ??= (async () => {
        stopping = true;
        clearInterval(pinger);
        await broker.stopConsuming().catch((e: Error) => logger.warn('could not cancel consumers', { error: e.message }));
        for (const t of tasks) t.abortIfWaiting(); // claimed, not started: their leases go back now, not after the grace period
        const all = Promise.allSettled([...tasks].map((t) => t.done));
        const graceOver = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), settings.SHUTDOWN_GRACE_MS).unref());
        if ((await Promise.race([all, graceOver])) === 'timeout') {
          logger.info('grace period over; stopping and giving back unfinished work', { tasks: tasks.size });
          for (const t of tasks) t.abort();
          await all;
        }
        await warmWorkers?.close();
        await broker.close().catch((e: Error) => logger.warn('broker close failed', { error: e.message }));
        logger.info('compute agent stopped');
      })()),
  };
}

/** The warm trial workers, unless turned off (TRAINING_WARM_WORKERS=0) or impossible here (no bubblewrap: no sandbox to keep warm). */
function warmPool(
  settings: AgentSettings,
  on: { caps: SandboxCapabilities; limits: SandboxLimits; engine: EngineSettings; workDir: string; logger: Logger },
): WarmWorkerPool | undefined {
  const maxWorkers = settings.TRAINING_WARM_WORKERS ?? warmWorkersFor(settings.AGENT_CONCURRENCY);
  if (maxWorkers === 0) return undefined;
  if (!on.caps.bubblewrap) {
    on.logger.warn('warm trial workers off: they need bubblewrap; every trial runs cold');
    return undefined;
  }
  const dir = path.join(on.workDir, 'warm-workers');
  fs.rmSync(dir, { recursive: true, force: true }); // a crashed agent's leftovers: their processes died with it (--die-with-parent)
  fs.mkdirSync(dir, { mode: 0o700 });
  return new WarmWorkerPool({
    caps: on.caps,
    limits: on.limits,
    engine: on.engine,
    dir,
    maxWorkers,
    spares: Math.min(settings.TRAINING_WARM_SPARES, maxWorkers),
    idleMs: settings.TRAINING_WARM_IDLE_SECONDS * 1000,
    logger: on.logger,
  });
}
