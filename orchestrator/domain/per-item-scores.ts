import { ValidationError } from '../../shared/errors/uplet-error';
import type { PerfMap } from './documents';

/**
 * Per-file scores arrive as the seed gives them — a list, one score per data
 * file in the uplet's `train_data` (or `test_data`) order — or as a map from
 * data uuid to score. They are stored as maps, so both forms read the same.
 */
export function perItemScoreMap(scores: PerfMap | number[] | undefined, dataOrder: readonly string[], field: string): PerfMap | undefined {
  if (scores === undefined || !Array.isArray(scores)) return scores;
  if (scores.length !== dataOrder.length) {
    throw new ValidationError(
      `${field} lists ${scores.length} scores but the uplet has ${dataOrder.length} data files; give one score per file, in the uplet's order, or a map from data uuid to score`,
      {
        details: { where: 'body', field, expected_length: dataOrder.length, got_length: scores.length },
      },
    );
  }
  return Object.fromEntries(dataOrder.map((uuid, i) => [uuid, scores[i]!]));
}
