import type { MetricDirection, UpletStatus } from './documents';

/** What the chain rules need of a learnuplet. */
export interface ChainLink {
  uuid: string;
  rank: number;
  status: UpletStatus;
  perf: number | null;
  model_start: string | null;
  model_end: string;
  /** The site the rank runs at (the queue it is published to); absent on documents from before sites. */
  site?: string | null;
}

export const TERMINAL: ReadonlySet<UpletStatus> = new Set<UpletStatus>(['done', 'failed', 'canceled']);

export function isBetter(candidate: number, best: number, direction: MetricDirection): boolean {
  return direction === 'lower' ? candidate < best : candidate > best;
}

/**
 * The model a rank starts from: Morpheo's "performance increase" rule. Rank 0
 * starts from the algo's own uuid ("untrained"); later ranks start from the
 * model_end of the best-perf done rank before them, which is the previous
 * rank's model when it improved, and the earlier best when it did not or failed.
 */
export function modelStartFor(rank: number, earlier: readonly ChainLink[], algoUuid: string, direction: MetricDirection): string {
  const best = bestDoneLink(
    earlier.filter((l) => l.rank < rank),
    direction,
  );
  return best ? best.model_end : algoUuid;
}

/** The done link with the best perf (earliest rank on ties), if any. */
export function bestDoneLink<T extends ChainLink>(links: readonly T[], direction: MetricDirection): T | undefined {
  let best: T | undefined;
  for (const l of [...links].sort((a, b) => a.rank - b.rank)) {
    if (l.status !== 'done' || l.perf === null || !Number.isFinite(l.perf)) continue;
    if (!best || isBetter(l.perf, best.perf as number, direction)) best = l;
  }
  return best;
}

export interface RankToStart {
  uuid: string;
  model_start: string;
}

/**
 * Only the first not-yet-run rank of a chain is runnable. Returns the rank to
 * turn from `waiting` into `todo` (with its model_start), or nothing when the
 * first unfinished rank is already todo/pending or the chain has ended.
 */
export function nextRankToStart(chain: readonly ChainLink[], algoUuid: string, direction: MetricDirection): RankToStart | undefined {
  const ordered = [...chain].sort((a, b) => a.rank - b.rank);
  const at = ordered.findIndex((l) => !TERMINAL.has(l.status));
  const first = at < 0 ? undefined : ordered[at];
  if (!first || first.status !== 'waiting') return undefined;
  // A rank missing before it (placed by another site's cutter, its learnuplets not inserted yet):
  // that cutter starts the chain once they are. Ranks run in order, never past a gap.
  if (first.rank !== at) return undefined;
  return { uuid: first.uuid, model_start: modelStartFor(first.rank, ordered, algoUuid, direction) };
}
