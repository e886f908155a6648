import type { CommandStartedEvent, CommandSucceededEvent, MongoClient } from 'mongodb';

/**
 * Watches what a piece of code asks the database, through the driver's command
 * monitoring: the filters it sends and how many documents come back. FerretDB
 * pushes only equality down to PostgreSQL; `$in`, `$or` and a range without an
 * equality beside it make it fetch and decode the whole collection, so on a hot
 * collection such a query makes a call cost O(collection).
 */
export interface QueryRecord {
  command: string;
  collection: string;
  filter: Record<string, unknown>;
}

export class QueryWatch {
  private readonly started: CommandStartedEvent[] = [];
  private readonly succeeded: CommandSucceededEvent[] = [];
  private recording = false;

  constructor(client: MongoClient) {
    client.on('commandStarted', (e) => void (this.recording && this.started.push(e)));
    client.on('commandSucceeded', (e) => void (this.recording && this.succeeded.push(e)));
  }

  /** Runs `work` and returns what it queried and how many documents it read. */
  async record<T>(work: () => Promise<T>): Promise<{ result: T; queries: QueryRecord[]; documentsRead: number }> {
    this.started.length = 0;
    this.succeeded.length = 0;
    this.recording = true;
    try {
      const result = await work();
      return { result, queries: this.started.flatMap(filtersOf), documentsRead: this.succeeded.reduce((n, e) => n + documentsIn(e), 0) };
    } finally {
      this.recording = false;
    }
  }
}

function filtersOf(e: CommandStartedEvent): QueryRecord[] {
  const cmd = e.command as Record<string, any>;
  const one = (collection: unknown, filter: unknown): QueryRecord => ({
    command: e.commandName,
    collection: String(collection),
    filter: (filter ?? {}) as Record<string, unknown>,
  });
  switch (e.commandName) {
    case 'find':
      return [one(cmd.find, cmd.filter)];
    case 'count':
      return [one(cmd.count, cmd.query)];
    case 'distinct':
      return [one(cmd.distinct, cmd.query)];
    case 'findAndModify':
      return [one(cmd.findAndModify, cmd.query)];
    case 'aggregate':
      return [one(cmd.aggregate, (cmd.pipeline as Array<Record<string, unknown>>)?.[0]?.$match)];
    case 'update':
      return (cmd.updates as Array<{ q: unknown }>).map((u) => one(cmd.update, u.q));
    case 'delete':
      return (cmd.deletes as Array<{ q: unknown }>).map((d) => one(cmd.delete, d.q));
    default:
      return [];
  }
}

function documentsIn(e: CommandSucceededEvent): number {
  const cursor = (e.reply as { cursor?: { firstBatch?: unknown[]; nextBatch?: unknown[] } }).cursor;
  return (cursor?.firstBatch?.length ?? 0) + (cursor?.nextBatch?.length ?? 0);
}

const isOperatorObject = (v: unknown): boolean =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) && Object.keys(v).some((k) => k.startsWith('$'));

/**
 * Equality-shaped: at least one top-level field compared by plain equality, no
 * top-level `$or`/`$and`/`$nor`/`$expr`, and no `$in`/`$nin`/`$regex`/`$where` anywhere.
 * A range beside an equality is fine (the equality is pushed down, the range checked after).
 */
export function isEqualityShaped(filter: Record<string, unknown>): boolean {
  const keys = Object.keys(filter);
  if (keys.length === 0 || keys.some((k) => k.startsWith('$'))) return false;
  if (!keys.some((k) => !isOperatorObject(filter[k]))) return false;
  return !/"\$(in|nin|regex|where|or|nor)"/.test(JSON.stringify(filter));
}

/** The queries on `hot` collections that FerretDB cannot push down. */
export function scanningQueries(queries: readonly QueryRecord[], hot: ReadonlySet<string>): QueryRecord[] {
  return queries.filter((q) => hot.has(q.collection) && !isEqualityShaped(q.filter));
}
