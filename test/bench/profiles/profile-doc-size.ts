/**
 * What a document's size costs on FerretDB (issue 22): findOne by _id and updateOne on 200
 * documents of ~1.5 KB and of ~8.5 KB (a trial document carries its dataset's profile, ~6 KB),
 * wall time and FerretDB's own CPU per command. `npx tsc -p tsconfig.bench.json && node
 * dist/test/bench/profiles/profile-doc-size.js`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BSON, MongoClient } from 'mongodb';
import { startLocalMongoServer } from '../../../standalone/local-db/local-mongo-server';

/** CPU ms used so far by a process (utime + stime, at 100 ticks per second). */
function cpuMs(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'uplet-doc-size-'));
  const server = await startLocalMongoServer({ dataDir, skipMemoryServer: true });
  const pid = server.ferret?.pid;
  if (pid === undefined) throw new Error(`this profile measures FerretDB; the server here is ${server.kind}`);
  const client = await new MongoClient(server.urlFor(`doc_size_${process.pid}`)).connect();
  try {
    const db = client.db(`doc_size_${process.pid}`);
    for (const columns of [10, 60]) {
      const c = db.collection<{ _id: string; job: string; status: string; profile: Record<string, unknown> }>(`docs_${columns}`);
      const profile = Object.fromEntries(
        Array.from({ length: columns }, (_, i) => [`col${i}`, { type: 'numeric', mean: i / 7, std: i / 11, missing: 0, note: 'x'.repeat(60) }]),
      );
      await c.insertMany(Array.from({ length: 200 }, (_, i) => ({ _id: `d${i}`, job: 'j', status: 'todo', profile })));
      const bytes = BSON.calculateObjectSize((await c.findOne({ _id: 'd1' }))!);
      let wall = performance.now();
      let cpu = cpuMs(pid);
      for (let round = 0; round < 3; round++) for (let i = 0; i < 200; i++) await c.findOne({ _id: `d${i}` });
      const find = { wall: (performance.now() - wall) / 600, cpu: (cpuMs(pid) - cpu) / 600 };
      wall = performance.now();
      cpu = cpuMs(pid);
      for (let i = 0; i < 200; i++) await c.updateOne({ _id: `d${i}` }, { $set: { status: 'done' } });
      const update = { wall: (performance.now() - wall) / 200, cpu: (cpuMs(pid) - cpu) / 200 };
      console.log(
        `${bytes} B documents: findOne ${find.wall.toFixed(2)} ms wall, ${find.cpu.toFixed(2)} ms FerretDB CPU; updateOne ${update.wall.toFixed(2)} ms wall, ${update.cpu.toFixed(2)} ms FerretDB CPU`,
      );
    }
    await db.dropDatabase();
  } finally {
    await client.close();
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
