import { openTestDatabase, type TestDatabase } from '../harness/test-database';
import { readState } from '../harness/test-servers-state';

/**
 * Which MongoDB behaviours uplet can rely on, checked on the server under test.
 * Inserts with one `_id` are atomic everywhere; findOneAndUpdate is atomic on
 * MongoDB only, which is why claims are built on insert fences.
 */
describe('MongoDB-protocol server behaviour', () => {
  let database: TestDatabase;
  const isFerret = () => readState().serverDescription.startsWith('FerretDB');

  beforeAll(async () => void (database = await openTestDatabase('behaviour')));
  afterAll(async () => database.cleanup());

  test('an insert race on one _id has exactly one winner, every round', async () => {
    const fences = database.db.collection<{ _id: string }>('fences');
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => fences.insertOne({ _id: `fence-${round}` })));
      const winners = results.filter((r) => r.status === 'fulfilled').length;
      const duplicates = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: number }).code === 11000).length;
      expect({ round, winners, duplicates }).toEqual({ round, winners: 1, duplicates: 19 });
    }
  });

  test('a findOneAndUpdate claim race: exactly once on MongoDB, possibly several times on FerretDB', async () => {
    const jobs = database.db.collection<{ _id: number; status: string }>('jobs');
    await jobs.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, status: 'todo' })));
    let claims = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (;;) {
          const doc = await jobs.findOneAndUpdate({ status: 'todo' }, { $set: { status: 'taken' } });
          if (!doc) return;
          claims++;
        }
      }),
    );
    expect(await jobs.countDocuments({ status: 'taken' })).toBe(50);
    process.stderr.write(`findOneAndUpdate race on ${readState().serverDescription}: ${claims} claims for 50 documents\n`);
    if (isFerret()) expect(claims).toBeGreaterThanOrEqual(50);
    else expect(claims).toBe(50);
  });
});
