import crypto from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Principal } from '../../shared/auth/api-keys';
import { RESERVED_WORKER_PREFIX, WORK_ERROR_CODES } from '../../shared/contracts/work-contract';
import { ConflictError, NotFoundError, SiteForbiddenError } from '../../shared/errors/uplet-error';
import { DEFAULT_SITE } from '../../shared/contracts/sites';
import type { Logger } from '../../shared/logging/logger';
import type { TaskDoc, TaskKind } from '../domain/documents';
import { afterUnsuccessfulAttempt, attemptOfToken, leaseId, minuteOf } from '../domain/lease-rules';
import { TERMINAL } from '../domain/chain-rules';
import { isDuplicateKey, type Collections, type LeaseDoc, type SettlementDoc } from '../persistence/collections';
import type { WorkDispatcher } from './work-dispatcher';
import type { OrchestratorMetrics } from '../metrics';
import { NO_EVENTS, type EventPublisher } from './event-publisher';
import { rulesOf, tasksOf, type ReceivedDone, type RecordedDone, type TaskKindTable } from './task-kinds';
import { RecentMap } from '../../shared/recent-map';
import { SettledLeaseDeleter } from './settled-lease-deleter';
import type { ClaimHints } from './claim-hints';
import type { TaskBlobs } from './task-capabilities';

export interface LeaseSettings {
  leaseMs: number;
  maxAttempts: number;
}

export interface LeaseGrant {
  uplet: TaskDoc;
  lease_token: string;
  attempt: number;
  lease_expires_at: Date;
  /** The lease document: what its capability opens and authorises. */
  lease: LeaseDoc;
  /** The site holding each blob of the task (`<kind>/<uuid>` → site). */
  locations: Record<string, string>;
}

/** The result a compute node reports for one attempt, as validated by the kind's report schema. */
export type WorkReport = ReceivedDone | { status: 'failed'; reason?: string; log_tail?: string; permanent?: boolean; lease_token?: string };

/**
 * Grants this replica made and has not seen settled, at most this many. A report of one reads
 * neither its task nor its lease: both are as the claim wrote them until a fence of their attempt
 * is settled, and every other writer of a claimed task or its lease settles that fence first.
 */
const GRANTS_KEPT = 4096;

/** What a claim wrote: the lease, and the task as its claim left it. */
interface Granted {
  lease: LeaseDoc;
  task: TaskDoc;
}

/**
 * Claims, heartbeats, reports and expiries of work. Exactly-once rests on
 * insert fences, atomic on MongoDB and FerretDB alike: the lease `<uuid>/<n>`
 * is the claim of attempt n, and the settlement `<uuid>/<n>` is how attempt n
 * ended (report, expiry or release), whichever inserts it first. Only the
 * winner of a fence writes the uplet, conditioned on its attempt.
 */
export class WorkLeases {
  private readonly granted = new RecentMap<string, Granted>(GRANTS_KEPT);
  /** Settled leases go in batches (a lease is dead once its settlement exists; the reaper deletes what a crash left). */
  private readonly settledLeases: SettledLeaseDeleter;

  constructor(
    private readonly c: Collections,
    private readonly kinds: TaskKindTable,
    private readonly dispatcher: WorkDispatcher,
    private readonly settings: LeaseSettings,
    private readonly logger: Logger,
    private readonly metrics?: OrchestratorMetrics,
    private readonly events: EventPublisher = NO_EVENTS,
    private readonly hints?: ClaimHints,
  ) {
    this.settledLeases = new SettledLeaseDeleter(c.leases, logger);
    // The capability a hinted claim will need is read as the task is published (ClaimHints).
    hints?.prepareWith((kind, task) => rulesOf(kinds, kind).blobs(task, task.attempt + 1));
  }

  /** Deletes the settled leases still queued (shutdown; tests that read the leases). */
  flushSettledLeases(): Promise<void> {
    return this.settledLeases.flush();
  }

  /** Every status a task is written to is announced (events exchange), after the write. */
  private announce(kind: TaskKind, uuid: string, status: string, attempt: number, detail?: Record<string, unknown>): void {
    this.events.publish({ subject: kind, id: uuid, status, attempt, ...(detail ? { detail } : {}) });
  }

  private uplets(kind: TaskKind) {
    return tasksOf(this.kinds, this.c, kind);
  }

  async claim(kind: TaskKind, uuid: string, worker: string, principal: Principal, agentSite: string = DEFAULT_SITE): Promise<LeaseGrant> {
    const rules = rulesOf(this.kinds, kind);
    // A task this replica just wrote as todo is claimed from that document, without reading it back (ClaimHints).
    const hint = this.hints?.take(kind, uuid);
    if (hint) {
      const usable = hint.task.status === 'todo' && rules.site(hint.task) === agentSite;
      const grant = usable ? await this.grant(kind, hint.task, worker, principal, true, await this.hints!.preparedBlobs(hint)) : undefined;
      this.metrics?.claimHints.inc({ kind, outcome: grant ? 'used' : 'stale' });
      if (grant) return grant;
    } else this.metrics?.claimHints.inc({ kind, outcome: 'none' });
    const uplet = await this.uplets(kind).findOne({ _id: uuid });
    if (!uplet) throw new NotFoundError(`${kind} ${uuid} does not exist`, { details: { where: 'path', field: 'uuid' } });
    const taskSite = rules.site(uplet);
    if (taskSite !== agentSite) {
      // Its data is at another site: only that site's agents compute on it. Nothing is written.
      this.metrics?.claims.inc({ kind, outcome: 'wrong_site' });
      throw new SiteForbiddenError(`${kind} ${uuid} runs at site ${taskSite}, where its data is; an agent of site ${agentSite} may not claim it`, {
        code: WORK_ERROR_CODES.WRONG_SITE,
        details: { where: 'body', field: 'site', task_site: taskSite, agent_site: agentSite },
      });
    }
    if (uplet.status !== 'todo') {
      this.metrics?.claims.inc({ kind, outcome: 'not_todo' });
      throw new ConflictError(`${kind} ${uuid} is ${uplet.status}, not todo`, { code: WORK_ERROR_CODES.NOT_CLAIMABLE, details: { status: uplet.status } });
    }
    return (await this.grant(kind, uplet, worker, principal, false))!;
  }

  /**
   * Claims the next attempt of `task` (todo, at the agent's site): its capability, the lease fence,
   * then the task's claimed write. `fromHint`: `task` is the document as this replica wrote it, not
   * as read; whatever says it has moved on since (the fence taken; or the write matching nothing,
   * after which this lease is deleted: a claim through another replica, a cancellation) returns
   * undefined, and the caller claims from the document as read. Only the fence grants an attempt, so a stale hint
   * costs commands, never a second grant; and the capability fields of a task never change after
   * its todo write, so the hint's capability is the task's.
   */
  private async grant(
    kind: TaskKind,
    task: TaskDoc,
    worker: string,
    principal: Principal,
    fromHint: boolean,
    prepared?: TaskBlobs,
  ): Promise<LeaseGrant | undefined> {
    const rules = rulesOf(this.kinds, kind);
    const uuid = task._id;
    const attempt = task.attempt + 1;
    // `prepared`: this very capability (the hint's task, this attempt), read since the todo write.
    const blobs = prepared ?? (await rules.blobs(task, attempt));
    // Before the lease: a work item that cannot be made leaves the task claimable, unchanged.
    const item = rules.workItem ? await rules.workItem(task) : task;
    const now = new Date();
    const expires = new Date(now.getTime() + this.settings.leaseMs);
    const lease: LeaseDoc = {
      _id: leaseId(uuid, attempt),
      uplet: uuid,
      kind,
      attempt,
      token: `${attempt}.${crypto.randomBytes(18).toString('base64url')}`,
      worker,
      principal: principal.name,
      claimed_at: now,
      expires_at: expires,
      expiry_minute: minuteOf(expires),
      reads: blobs.reads,
      writes: blobs.writes,
      site: rules.site(task),
      ...(blobs.anywhere && blobs.anywhere.length > 0 ? { anywhere: blobs.anywhere } : {}),
    };
    try {
      await this.c.leases.insertOne(lease);
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      if (fromHint) return undefined;
      if (await this.finishCancellationOf(kind, uuid, attempt)) {
        throw new ConflictError(`${kind} ${uuid} is canceled, not todo`, { code: WORK_ERROR_CODES.NOT_CLAIMABLE, details: { status: 'canceled' } });
      }
      this.metrics?.claims.inc({ kind, outcome: 'lost_race' });
      throw new ConflictError(`${kind} ${uuid} attempt ${attempt} is already claimed`, { code: WORK_ERROR_CODES.ALREADY_CLAIMED });
    }
    const claimed = { status: 'pending' as const, worker, attempt, timestamp_claimed: now };
    const written = await this.uplets(kind).updateOne(
      { _id: uuid, attempt: task.attempt, ...(fromHint ? { status: 'todo' as const } : {}) },
      { $set: claimed },
    );
    if (fromHint && written.matchedCount === 0) {
      // The attempt was claimed and settled elsewhere (its lease deleted since), or the task left todo: not ours to run.
      await this.c.leases.deleteOne({ _id: lease._id, token: lease.token });
      return undefined;
    }
    // Remembered only when the write landed on the document read (no concurrent writer in between).
    if (written.matchedCount === 1) this.granted.set(lease._id, { lease, task: { ...task, ...claimed } });
    this.announce(kind, uuid, 'pending', attempt, { worker });
    this.metrics?.claims.inc({ kind, outcome: 'won' });
    if (task.timestamp_todo) this.metrics?.dispatchLag.observe({ kind }, (now.getTime() - task.timestamp_todo.getTime()) / 1000);
    return {
      uplet: { ...item, ...claimed },
      lease_token: lease.token,
      attempt,
      lease_expires_at: lease.expires_at,
      lease,
      locations: blobs.locations ?? {},
    };
  }

  /**
   * Extends a live lease held by this principal; 409 LEASE_LOST tells the agent
   * to stop and discard its work. Returns the extended lease, whose capability
   * the caller re-signs (capabilities expire with their lease).
   */
  async heartbeat(kind: TaskKind, uuid: string, token: string, principal: Principal): Promise<LeaseDoc> {
    const lease = await this.liveLease(kind, uuid, token, principal);
    const expires = new Date(Date.now() + this.settings.leaseMs);
    // A lease document is written only by heartbeats after its insert, so this rewrite loses nothing.
    const res = await this.c.leases.updateOne({ _id: lease._id, token }, { $set: { expires_at: expires, expiry_minute: minuteOf(expires) } });
    if (res.matchedCount === 0) throw lost(kind, uuid);
    return { ...lease, expires_at: expires };
  }

  /** Gives back a lease on shutdown: the uplet is todo again at once, not after the lease expires. */
  async release(kind: TaskKind, uuid: string, token: string, principal: Principal): Promise<TaskDoc> {
    const lease = await this.liveLease(kind, uuid, token, principal);
    if (!(await this.settle(lease, 'release', 'released', null))) throw lost(kind, uuid);
    // $inc is not atomic on FerretDB; a lost count would only use up one retry, and releases of one
    // task never race (each settles its own attempt's fence first).
    await this.uplets(kind).updateOne(
      { _id: uuid, attempt: { $lte: lease.attempt }, status: { $ne: 'todo' } },
      { $set: { status: 'todo', worker: null, attempt: lease.attempt, timestamp_todo: new Date() }, $inc: { released_attempts: 1 } },
    );
    this.announce(kind, uuid, 'todo', lease.attempt, { reason: 'released' });
    this.settledLeases.delete(lease._id);
    await this.dispatcher.dispatch(kind, [uuid], lease.site);
    return this.current(kind, uuid);
  }

  /**
   * Records a result from the current lease holder only. A report for a
   * settled attempt is 409, unless it repeats the recorded result exactly
   * (a retried request), which is answered with the uplet as it stands.
   */
  async report(kind: TaskKind, uuid: string, received: WorkReport, principal: Principal): Promise<TaskDoc> {
    const tokenAttempt = received.lease_token ? attemptOfToken(received.lease_token) : undefined;
    const granted = tokenAttempt === undefined ? undefined : this.granted.get(leaseId(uuid, tokenAttempt));
    // A grant of this replica answers for the task and the lease; the settlement fence below still decides.
    const remembered = granted?.lease.kind === kind ? granted : undefined;
    const uplet = remembered?.task ?? (await this.uplets(kind).findOne({ _id: uuid }));
    if (!uplet) throw new NotFoundError(`${kind} ${uuid} does not exist`, { details: { where: 'path', field: 'uuid' } });
    const attempt = received.lease_token ? tokenAttempt : uplet.attempt;
    if (attempt === undefined || attempt < 1) throw notHolder(kind, uuid);
    const id = leaseId(uuid, attempt);
    // Normalised before the repeat check, so a repeat in either score form compares equal.
    const report: WorkReport =
      received.status === 'done'
        ? { ...rulesOf(this.kinds, kind).acceptDone(uplet, attempt, received), ...(received.lease_token ? { lease_token: received.lease_token } : {}) }
        : received;

    // The holder's first report finds its lease and wins the settlement fence; a settled attempt
    // is read only when that fails (a repeat, a late report), so the usual report reads once.
    const lease = remembered?.lease ?? (await this.c.leases.findOne({ _id: id }));
    if (!lease || !isHolder(lease, report.lease_token, principal)) {
      const settled = await this.c.settlements.findOne({ _id: id });
      if (settled) return this.answerRepeat(kind, uuid, settled, report, principal);
      throw notHolder(kind, uuid);
    }
    const status = report.status;
    if (!(await this.settle(lease, 'report', status, report, principal))) {
      const winner = await this.c.settlements.findOne({ _id: id });
      if (winner) return this.answerRepeat(kind, uuid, winner, report, principal);
      throw notHolder(kind, uuid);
    }
    // A done report answers with the document as its write left it (no re-read); a failure re-reads, its writes vary.
    const written = report.status === 'done' ? await this.recordDone(kind, uplet, attempt, report) : undefined;
    if (report.status !== 'done')
      await this.afterFailure(
        kind,
        uplet,
        attempt,
        'failed',
        report.reason ?? 'the compute node reported a failure',
        report.log_tail,
        report.permanent === true,
      );
    this.settledLeases.delete(id);
    return written ?? this.current(kind, uuid);
  }

  /**
   * Cancels one uplet through the same fences as claims and reports, so a cancellation racing
   * either ends in exactly one outcome. A queued uplet's next attempt is claimed by the
   * cancellation (a tombstone lease that never expires, so no agent can claim that attempt)
   * and settled `canceled` at once; a running one's current attempt is settled, and its agent
   * learns it at its next heartbeat (LEASE_LOST) and stops. True when this call canceled it.
   */
  async cancel(kind: TaskKind, uuid: string, reason: string, by: Principal): Promise<boolean> {
    for (let round = 0; round < 6; round++) {
      if (round > 0) await new Promise((r) => setTimeout(r, 20 * round));
      const uplet = await this.uplets(kind).findOne({ _id: uuid });
      if (!uplet || TERMINAL.has(uplet.status)) return false;
      const lease =
        uplet.status === 'pending'
          ? await this.c.leases.findOne({ _id: leaseId(uuid, uplet.attempt) })
          : await this.cancellationLease(kind, uuid, uplet.attempt + 1, by, reason);
      // No lease: the attempt was claimed or settled meanwhile; read again.
      if (!lease) continue;
      if (!(await this.settle(lease, 'cancel', 'canceled', null, by))) {
        if (isTombstone(lease) && (await this.finishCancellation(kind, uuid, lease.attempt, reason))) return true;
        continue;
      }
      await this.applyCanceled(kind, uuid, lease.attempt, reason);
      // A running attempt's lease goes; a tombstone stays, refusing claims of its attempt.
      if (!isTombstone(lease)) this.settledLeases.delete(lease._id);
      return true;
    }
    throw new ConflictError(`${kind} ${uuid} changed state under cancellation 6 times; try again`, { code: WORK_ERROR_CODES.CANCEL_CONTENDED });
  }

  /** The tombstone claim of a queued uplet's next attempt; an existing tombstone (a cancellation that died midway) is reused. */
  private async cancellationLease(kind: TaskKind, uuid: string, attempt: number, by: Principal, reason: string): Promise<LeaseDoc | null> {
    const now = new Date();
    const tombstone: LeaseDoc = {
      _id: leaseId(uuid, attempt),
      uplet: uuid,
      kind,
      attempt,
      token: `${attempt}.${crypto.randomBytes(18).toString('base64url')}`,
      worker: CANCELLATION_WORKER,
      principal: by.name,
      claimed_at: now,
      expires_at: NEVER,
      cancel_reason: reason,
    };
    try {
      await this.c.leases.insertOne(tombstone);
      return tombstone;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      const existing = await this.c.leases.findOne({ _id: tombstone._id });
      return existing && isTombstone(existing) ? existing : null;
    }
  }

  /**
   * Applies a cancellation whose settlement is recorded but whose uplet write was lost or
   * overwritten (the canceller died, or a concurrent whole-document rewrite won). True if so.
   */
  private async finishCancellation(kind: TaskKind, uuid: string, attempt: number, reason = 'canceled'): Promise<boolean> {
    const settled = await this.c.settlements.findOne({ _id: leaseId(uuid, attempt) });
    if (settled?.status !== 'canceled') return false;
    await this.applyCanceled(kind, uuid, attempt, reason);
    return true;
  }

  /**
   * A claim lost the fence of `attempt`: is that attempt a cancellation's? If so, finishes it and
   * says true. The settlement and the lease are read side by side. A settled cancellation is applied
   * (its canceller may have died before its uplet write). A tombstone without a settlement is a
   * cancellation that died before settling: the tombstone never expires and refuses every claim of
   * its attempt, so without this the uplet would stay todo and unclaimable for good. The tombstone is
   * the cancellation's durable intent (with its reason), and its settlement is the fence the
   * canceller inserts too, so a canceller still alive and this claim agree on one outcome.
   */
  private async finishCancellationOf(kind: TaskKind, uuid: string, attempt: number): Promise<boolean> {
    const id = leaseId(uuid, attempt);
    const [settled, lease] = await Promise.all([this.c.settlements.findOne({ _id: id }), this.c.leases.findOne({ _id: id })]);
    const tombstone = lease && isTombstone(lease) ? lease : undefined;
    const reason = tombstone?.cancel_reason ?? 'canceled';
    if (settled) {
      if (settled.status !== 'canceled') return false;
      await this.applyCanceled(kind, uuid, attempt, reason);
      return true;
    }
    if (!tombstone) return false;
    if (!(await this.settle(tombstone, 'cancel', 'canceled', null))) return this.finishCancellation(kind, uuid, attempt, reason);
    this.logger.warn('finished a cancellation that had stopped before its settlement', { kind, uuid, attempt });
    await this.applyCanceled(kind, uuid, attempt, reason);
    return true;
  }

  private async applyCanceled(kind: TaskKind, uuid: string, attempt: number, reason: string): Promise<void> {
    // Applied once: a second finisher (a claim and the canceller it raced) keeps the first's reason and time.
    await this.uplets(kind).updateOne(
      { _id: uuid, attempt: { $lte: attempt }, status: { $ne: 'canceled' } },
      { $set: { status: 'canceled', attempt, worker: null, failure_reason: reason, timestamp_done: new Date() } },
    );
    this.announce(kind, uuid, 'canceled', attempt, { reason });
  }

  /** Settles one expired lease; called by the reaper. Returns false when someone settled it first. */
  async expire(lease: LeaseDoc): Promise<boolean> {
    // Two-phase check: re-read the lease so a heartbeat that just extended it wins.
    const fresh = await this.c.leases.findOne({ _id: lease._id });
    if (!fresh || fresh.expires_at.getTime() > Date.now()) return false;
    const won = await this.settle(fresh, 'expiry', 'expired', null);
    if (won) {
      this.metrics?.leaseExpiries.inc({ kind: fresh.kind });
      const uplet = await this.uplets(fresh.kind).findOne({ _id: fresh.uplet });
      if (uplet) await this.afterFailure(fresh.kind, uplet, fresh.attempt, 'expired', `lease of attempt ${fresh.attempt} expired (worker ${fresh.worker})`);
    }
    await this.c.leases.deleteOne({ _id: fresh._id });
    return won;
  }

  /**
   * Repairs a pending uplet whose attempt was settled but not applied (the
   * settling process died in between, or a slow claim write landed after the
   * settlement). Settlement outcomes are deterministic, so applying twice is harmless.
   */
  async reapplySettlement(kind: TaskKind, uuid: string, attempt: number): Promise<boolean> {
    const settled = await this.c.settlements.findOne({ _id: leaseId(uuid, attempt) });
    const uplet = await this.uplets(kind).findOne({ _id: uuid });
    if (!settled || !uplet || uplet.status !== 'pending' || uplet.attempt !== attempt) return false;
    const result = settled.result ?? {};
    if (settled.status === 'done') await this.recordDone(kind, uplet, attempt, result as RecordedDone);
    else if (settled.status === 'canceled') await this.applyCanceled(kind, uuid, attempt, 'canceled');
    else if (settled.status === 'released') {
      await this.uplets(kind).updateOne(
        { _id: uuid, attempt, status: { $ne: 'todo' } },
        { $set: { status: 'todo', worker: null, timestamp_todo: new Date() }, $inc: { released_attempts: 1 } },
      );
      this.announce(kind, uuid, 'todo', attempt, { reason: 'released' });
      await this.dispatcher.dispatch(kind, [uuid], rulesOf(this.kinds, kind).site(uplet));
    } else {
      const cause = settled.status === 'expired' ? 'expired' : 'failed';
      await this.afterFailure(
        kind,
        uplet,
        attempt,
        cause,
        typeof result.reason === 'string' ? result.reason : `attempt ${attempt} ${settled.status}`,
        undefined,
        result.permanent === true,
      );
    }
    await this.c.leases.deleteOne({ _id: settled._id });
    return true;
  }

  /** The live lease of this token, held by this principal: a token copied to another key is worth nothing. */
  private async liveLease(kind: TaskKind, uuid: string, token: string, principal: Principal): Promise<LeaseDoc> {
    const attempt = attemptOfToken(token);
    if (attempt === undefined) throw lost(kind, uuid);
    const id = leaseId(uuid, attempt);
    // A grant of this replica is the lease as inserted (a heartbeat changes only its expiry); the settlement is always read.
    const remembered = this.granted.get(id)?.lease;
    const [lease, settled] = await Promise.all([remembered ?? this.c.leases.findOne({ _id: id }), this.c.settlements.findOne({ _id: id })]);
    if (!lease || !isHolder(lease, token, principal) || lease.kind !== kind || settled) throw lost(kind, uuid);
    return lease;
  }

  /** Inserts the settlement fence of an attempt; true for the one caller that wins it. */
  private async settle(
    lease: LeaseDoc,
    by: SettlementDoc['by'],
    status: SettlementDoc['status'],
    result: WorkReport | null,
    principal?: Principal,
  ): Promise<boolean> {
    // Whoever wins, the claim's copy of this attempt is no longer what the database holds.
    this.granted.delete(lease._id);
    try {
      await this.c.settlements.insertOne({
        _id: lease._id,
        uplet: lease.uplet,
        kind: lease.kind,
        attempt: lease.attempt,
        by,
        status,
        result: result ? { ...stripToken(result), reporter: principal?.name ?? null, token_digest: digest(lease.token) } : null,
        settled_at: new Date(),
      });
      return true;
    } catch (err) {
      if (isDuplicateKey(err)) return false;
      throw err;
    }
  }

  private async answerRepeat(kind: TaskKind, uuid: string, settled: SettlementDoc, report: WorkReport, principal: Principal): Promise<TaskDoc> {
    const recorded = settled.result;
    const sameHolder = recorded && (report.lease_token ? recorded.token_digest === digest(report.lease_token) : recorded.reporter === principal.name);
    if (settled.by === 'report' && sameHolder && isDeepStrictEqual(withoutBookkeeping(recorded), stripToken(report))) {
      return this.current(kind, uuid);
    }
    throw new ConflictError(`${kind} ${uuid} attempt ${settled.attempt} is already settled (${settled.by}: ${settled.status}); this report is refused`, {
      code: WORK_ERROR_CODES.LEASE_SETTLED,
      details: { attempt: settled.attempt, settled_by: settled.by },
    });
  }

  /** Writes the done result; returns the document as written (the report's answer), or undefined if the write matched nothing. */
  private async recordDone(kind: TaskKind, uplet: TaskDoc, attempt: number, report: RecordedDone): Promise<TaskDoc | undefined> {
    const rules = rulesOf(this.kinds, kind);
    const now = new Date();
    const fields = { ...rules.doneFields(report), status: 'done' as const, attempt, timestamp_done: now, failure_reason: null };
    let written: TaskDoc | undefined;
    await rules.finish(uplet, attempt, () =>
      this.uplets(kind)
        .updateOne({ _id: uplet._id, attempt: { $lte: attempt } }, { $set: fields })
        .then((res) => {
          this.announce(kind, uplet._id, 'done', attempt);
          if (res.matchedCount === 1) written = { ...uplet, ...fields } as TaskDoc;
          return res;
        }),
    );
    return written;
  }

  /**
   * A failed or expired attempt: retry while attempts remain, else fail for good (a chain then
   * moves on). A permanent failure (deterministic bad input) fails for good at once.
   */
  private async afterFailure(
    kind: TaskKind,
    uplet: TaskDoc,
    attempt: number,
    cause: 'expired' | 'failed',
    reason: string,
    logTail?: string,
    permanent = false,
  ): Promise<void> {
    const decision = permanent
      ? { next: 'failed' as const, reason }
      : afterUnsuccessfulAttempt(attempt, this.settings.maxAttempts, cause, reason, uplet.released_attempts ?? 0);
    const now = new Date();
    const failure_reason = logTail ? `${reason}\n--- log tail ---\n${logTail}` : reason;
    if (decision.next === 'todo') {
      await this.uplets(kind).updateOne(
        { _id: uplet._id, attempt: { $lte: attempt } },
        { $set: { status: 'todo', worker: null, attempt, failure_reason, timestamp_todo: now } },
      );
      this.announce(kind, uplet._id, 'todo', attempt, { reason });
      await this.dispatcher.dispatch(kind, [uplet._id], rulesOf(this.kinds, kind).site(uplet));
      return;
    }
    const finalReason = logTail ? `${decision.reason}\n--- log tail ---\n${logTail}` : decision.reason;
    this.logger.warn('uplet failed for good', { uplet: uplet._id, kind, reason: decision.reason });
    await rulesOf(this.kinds, kind).finish(uplet, attempt, () =>
      this.uplets(kind)
        .updateOne({ _id: uplet._id, attempt: { $lte: attempt } }, { $set: { status: 'failed', attempt, failure_reason: finalReason, timestamp_done: now } })
        .then((res) => (this.announce(kind, uplet._id, 'failed', attempt, { reason: decision.reason }), res)),
    );
  }

  private async current(kind: TaskKind, uuid: string): Promise<TaskDoc> {
    const doc = await this.uplets(kind).findOne({ _id: uuid });
    if (!doc) throw new NotFoundError(`${kind} ${uuid} does not exist`);
    return doc;
  }
}

/** The `worker` of a cancellation's tombstone lease; such a lease never expires. */
const CANCELLATION_WORKER = `${RESERVED_WORKER_PREFIX}cancellation`;
const NEVER = new Date('9999-12-31T00:00:00Z');

/** A cancellation's tombstone: its holder and its expiry both say so (an agent's lease always expires). */
function isTombstone(lease: LeaseDoc): boolean {
  return lease.worker === CANCELLATION_WORKER && lease.expires_at.getTime() === NEVER.getTime();
}

/**
 * The holder is the key that claimed; with a token, also the agent that holds
 * it. Without one (the seed-compatible path), any agent sharing the claiming
 * key is trusted, so give each agent its own key.
 */
function isHolder(lease: LeaseDoc, token: string | undefined, principal: Principal): boolean {
  return lease.principal === principal.name && (token === undefined || lease.token === token);
}

function lost(kind: TaskKind, uuid: string): ConflictError {
  return new ConflictError(`the lease on ${kind} ${uuid} is no longer held (expired, settled or never granted)`, { code: WORK_ERROR_CODES.LEASE_LOST });
}

function notHolder(kind: TaskKind, uuid: string): ConflictError {
  return new ConflictError(`only the current lease holder of ${kind} ${uuid} may report its result`, { code: WORK_ERROR_CODES.NOT_LEASE_HOLDER });
}

function stripToken(report: WorkReport): Record<string, unknown> {
  const { lease_token: _ignored, ...rest } = report;
  return rest;
}

function withoutBookkeeping(recorded: Record<string, unknown>): Record<string, unknown> {
  const { reporter: _r, token_digest: _t, ...rest } = recorded;
  return rest;
}

function digest(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}
