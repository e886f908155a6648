import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one orchestrator (`GET /metrics`). */
export class OrchestratorMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'uplet_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [this.registry],
  });
  readonly claims = new Counter({
    name: 'uplet_claims_total',
    help: 'Claims through /worker by kind and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly claimHints = new Counter({
    name: 'uplet_claim_hints_total',
    help: "Claims by kind and whether they were made from this replica's todo write of the task (used), could not use it and read the task (stale: the task moved on, or the agent is of another site) or had none (none)",
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly leaseExpiries = new Counter({
    name: 'uplet_lease_expiries_total',
    help: 'Leases settled by the reaper',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly published = new Counter({
    name: 'uplet_dispatch_published_total',
    help: 'Work messages published and confirmed',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly republished = new Counter({
    name: 'uplet_dispatch_republished_total',
    help: 'Todo work republished by the sweeper',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly dispatchLag = new Histogram({
    name: 'uplet_dispatch_lag_seconds',
    help: 'Time from todo to claim',
    labelNames: ['kind'],
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600],
    registers: [this.registry],
  });
  readonly upletsByStatus = new Gauge({
    name: 'uplet_uplets',
    help: 'Uplets by kind and status (refreshed on scrape)',
    labelNames: ['kind', 'status'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
