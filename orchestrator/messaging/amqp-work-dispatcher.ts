import type { AmqpBroker } from '../../shared/messaging/amqp-broker';
import { queueFor, type WorkTopology } from '../../shared/messaging/work-topology';
import type { Logger } from '../../shared/logging/logger';
import type { TaskKind } from '../domain/documents';
import type { Collections } from '../persistence/collections';
import type { OrchestratorMetrics } from '../metrics';
import type { DispatchOptions, WorkDispatcher } from '../work/work-dispatcher';

export class AmqpWorkDispatcher implements WorkDispatcher {
  constructor(
    private readonly broker: AmqpBroker,
    private readonly topology: WorkTopology,
    private readonly collections: Collections,
    private readonly logger: Logger,
    private readonly metrics?: OrchestratorMetrics,
  ) {}

  /**
   * Never throws: a message that could not be published is picked up again by
   * the sweeper, which republishes todo work nobody has claimed for a while.
   */
  /** Reads a task's site when a caller did not say it (set by the service once the per-kind table exists). */
  siteOf: (kind: TaskKind, uuid: string) => Promise<string> = async () => 'default';

  async dispatch(kind: TaskKind, uuids: readonly string[], site?: string, how: DispatchOptions = {}): Promise<void> {
    if (uuids.length === 0) return;
    const published: string[] = [];
    try {
      // Confirms are awaited together: one round of confirms per batch, not per message.
      await Promise.all(
        uuids.map(async (uuid) => {
          // The queue of the site that holds the task's data: only that site's agents consume it.
          await this.broker.publish(queueFor(this.topology, kind, site ?? (await this.siteOf(kind, uuid))), { type: kind, uuid });
          published.push(uuid);
        }),
      );
    } catch (err) {
      this.logger.warn('could not publish work; the sweeper will republish it', {
        kind,
        count: uuids.length - published.length,
        error: (err as Error).message,
      });
    }
    this.metrics?.published.inc({ kind }, published.length);
    // Only a republish is recorded: a first publish follows its todo write, whose timestamp_todo the
    // sweeper reads already. That upsert (a FerretDB update) used to land while the agent's claim read.
    if (published.length === 0 || !how.republish) return;
    const now = new Date();
    await this.collections.dispatches
      .bulkWrite(
        published.map((uuid) => ({ updateOne: { filter: { _id: uuid }, update: { $set: { kind, published_at: now } }, upsert: true } })),
        { ordered: false },
      )
      .catch((err: Error) => this.logger.warn('could not record dispatch times', { error: err.message }));
  }
}
