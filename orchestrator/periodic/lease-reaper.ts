import { minuteOf } from '../domain/lease-rules';
import type { Collections } from '../persistence/collections';
import type { WorkLeases } from '../work/work-leases';

/** The reaper's cursor: the oldest minute that may still hold an unreaped lease. */
export const REAPER_CURSOR = 'lease-reaper';
/** How far back a reaper with no cursor yet looks, and how many minutes one cycle walks at most. */
const FIRST_LOOKBACK_MINUTES = 10;
const MAX_MINUTES_PER_CYCLE = 120;

/**
 * Returns expired leases to `todo` (or `failed` after the last attempt). Each
 * expiry is settled through the same fence as a report, so a report racing the
 * reaper ends in exactly one of the two outcomes.
 *
 * A cycle reads only the minutes that are due, each by the equality
 * `expiry_minute: m` (FerretDB pushes equality down but scans a range), from a
 * cursor that moves past a minute once it is empty: its cost follows the
 * leases that expire, not how many leases or uplets exist.
 */
export async function reapExpiredLeases(c: Collections, leases: WorkLeases, batch = 500): Promise<number> {
  const now = Date.now();
  const current = minuteOf(new Date(now));
  const cursor = await c.cursors.findOne({ _id: REAPER_CURSOR });
  const from = Math.min(cursor?.minute ?? current - FIRST_LOOKBACK_MINUTES, current);
  const to = Math.min(current, from + MAX_MINUTES_PER_CYCLE - 1);
  let reaped = 0;
  let oldestLeft: number | undefined;
  for (let minute = from; minute <= to; minute++) {
    const due = await c.leases.find({ expiry_minute: minute }).limit(batch).toArray();
    let left = due.length === batch;
    for (const lease of due) {
      if (lease.expires_at.getTime() > now) left = true;
      else if (await leases.expire(lease)) reaped++;
    }
    if (left && oldestLeft === undefined) oldestLeft = minute;
  }
  // The current minute is never done: leases shorter than a minute may still land in it.
  const next = Math.min(oldestLeft ?? to + 1, current);
  if (next !== cursor?.minute) {
    // Best-effort: a stale cursor (two replicas) only makes a cycle read a few more minutes.
    await c.cursors.updateOne({ _id: REAPER_CURSOR }, { $set: { minute: next } }, { upsert: true }).catch(() => undefined);
  }
  return reaped;
}

/**
 * Leases claimed before `expiry_minute` existed would never be read by the
 * reaper: give them theirs once, at start-up. This one query scans the leases
 * (only live claims, a small collection); no periodic path does.
 */
export async function backfillExpiryMinutes(c: Collections): Promise<number> {
  const old = await c.leases.find({ expiry_minute: { $exists: false } }, { projection: { expires_at: 1 } }).toArray();
  if (old.length === 0) return 0;
  await c.leases.bulkWrite(
    old.map((l) => ({ updateOne: { filter: { _id: l._id }, update: { $set: { expiry_minute: minuteOf(l.expires_at) } } } })),
    { ordered: false },
  );
  return old.length;
}
