import { createHash } from 'node:crypto';

/** Seeds are in [0, 2^31 − 1): every library (numpy, sklearn, Optuna) takes them. */
export const MAX_SEED = 2 ** 31 - 1;

/**
 * A seed that depends only on `base` and `labels`, identical to the Python's
 * `uplet_training.seeds.derive_seed`: SHA-256 of `"<base>:<label>:…"`, first 8 bytes read
 * big-endian, modulo 2^31 − 1. So the orchestrator and the compute agent derive the same streams.
 */
export function deriveSeed(base: number, ...labels: Array<string | number>): number {
  const text = [String(Math.trunc(base)), ...labels.map(String)].join(':');
  const digest = createHash('sha256').update(text, 'utf8').digest();
  return Number(digest.readBigUInt64BE(0) % BigInt(MAX_SEED));
}
