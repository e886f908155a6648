import type { Collections } from '../persistence/collections';
import type { WorkLeases } from '../work/work-leases';

/**
 * Returns expired leases to `todo` (or `failed` after the last attempt). Each
 * expiry is settled through the same fence as a report, so a report racing the
 * reaper ends in exactly one of the two outcomes.
 */
export async function reapExpiredLeases(c: Collections, leases: WorkLeases, batch = 500): Promise<number> {
  const expired = await c.leases.find({ expires_at: { $lt: new Date() } }).limit(batch).toArray();
  let reaped = 0;
  for (const lease of expired) if (await leases.expire(lease)) reaped++;
  return reaped;
}
