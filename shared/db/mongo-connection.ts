import { MongoClient, type Db } from 'mongodb';

export interface MongoConnection {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

export interface MongoConnectOptions {
  dbName?: string;
  /** Keep small on FerretDB: the sum of every client's pool must stay under its PostgreSQL pool / 2. */
  maxPoolSize?: number;
  serverSelectionTimeoutMS?: number;
}

/** Connects and pings once so a wrong URL fails at start-up, not at the first request. */
export async function connectMongo(url: string, options: MongoConnectOptions = {}): Promise<MongoConnection> {
  const client = new MongoClient(url, {
    maxPoolSize: options.maxPoolSize ?? 10,
    serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 10_000,
  });
  await client.connect();
  const db = client.db(options.dbName);
  await db.command({ ping: 1 });
  let closing: Promise<void> | undefined;
  return { client, db, close: () => (closing ??= client.close()) };
}

/** `buildInfo` of the server, e.g. to print which server and version a test run uses. */
export async function describeServer(db: Db): Promise<string> {
  const info = await db.admin().command({ buildInfo: 1 });
  const ferret = (info as { ferretdbVersion?: string }).ferretdbVersion;
  // Built from the module proxy, FerretDB cannot embed its version; uplet's build script pins v1.24.2.
  if (ferret === 'unknown') return `FerretDB v1.24.2 (MongoDB ${String(info.version)} protocol)`;
  return ferret ? `FerretDB ${ferret} (MongoDB ${String(info.version)} protocol)` : `MongoDB ${String(info.version)}`;
}
