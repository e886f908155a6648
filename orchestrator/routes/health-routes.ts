import { Router } from 'express';
import { TASK_KINDS } from '../../shared/contracts/work-contract';
import type { Collections } from '../persistence/collections';
import { tasksOf, type TaskKindTable } from '../work/task-kinds';
import type { OrchestratorMetrics } from '../metrics';

export interface Readiness {
  /** Null when ready; otherwise what is missing. */
  check(): Promise<string | null>;
}

/** Unauthenticated probes: liveness, readiness (database and broker), Prometheus metrics. */
export function healthRoutes(readiness: Readiness, metrics: OrchestratorMetrics, c: Collections, kinds: TaskKindTable): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  router.get('/readyz', async (_req, res) => {
    const missing = await readiness.check();
    res.status(missing ? 503 : 200).json(missing ? { status: 'unavailable', reason: missing } : { status: 'ready' });
  });
  router.get('/metrics', async (_req, res) => {
    await refreshStatusGauge(metrics, c, kinds).catch(() => undefined);
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}

async function refreshStatusGauge(metrics: OrchestratorMetrics, c: Collections, kinds: TaskKindTable): Promise<void> {
  const group = [{ $group: { _id: '$status', n: { $sum: 1 } } }];
  const counts = await Promise.all(TASK_KINDS.map((kind) => tasksOf(kinds, c, kind).aggregate<{ _id: string; n: number }>(group).toArray()));
  metrics.upletsByStatus.reset();
  TASK_KINDS.forEach((kind, i) => {
    for (const { _id, n } of counts[i]!) metrics.upletsByStatus.set({ kind, status: _id }, n);
  });
}
