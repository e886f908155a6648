import fs from 'node:fs';
import { TaskStepFailed } from './task-workspace';
import { sandboxOutputFile } from '../sandbox/sandbox-output';

export interface Score {
  perf: number;
  perfs: Record<string, number>;
  metrics: Record<string, number>;
}

/** Reads the workflow's score.json; anything malformed is the workflow's failure, said plainly. */
export async function readScore(file: string, expectedItems: readonly string[]): Promise<Score> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.promises.readFile(await sandboxOutputFile(file, 'score'), 'utf8'));
  } catch (err) {
    throw new TaskStepFailed('score', undefined, `score: the workflow wrote no valid JSON to its output (${(err as Error).message})`);
  }
  const s = parsed as Partial<Score>;
  if (typeof s.perf !== 'number' || !Number.isFinite(s.perf) || typeof s.perfs !== 'object' || s.perfs === null) {
    throw new TaskStepFailed('score', undefined, 'score: the output must be {"perf": number, "perfs": {item: number}, "metrics": {...}}');
  }
  const perfs: Record<string, number> = {};
  for (const item of expectedItems) {
    const v = (s.perfs as Record<string, unknown>)[item];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TaskStepFailed('score', undefined, `score: no numeric perf for item ${item}`);
    perfs[item] = v;
  }
  return { perf: s.perf, perfs, metrics: s.metrics ?? {} };
}
