// The cold path's reads, on each database: reads asked for in the same turn
// go out as batched statements, and each caller gets the row of its own id.
import { expect } from 'chai';
import { openEntryReads, type EntryReads } from '../db/entry-reads.js';
import { openDatabase, type Knex } from '../db/knex.js';
import { migrate } from '../db/migrate.js';
import { loadConfig } from '../server/config/config.js';
import { freshDatabase, type TestDatabase } from './support/database.js';

/** The values in an order fixed by the seed (Fisher–Yates over a linear congruential generator). */
function shuffled<T>(values: T[], seed: number): T[] {
  const out = [...values];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

describe('reads of single entries', () => {
  let database: TestDatabase;
  let db: Knex;
  let reads: EntryReads;
  const stored = Array.from({ length: 200 }, (_, i) => `r${String(i).padStart(3, '0')}`);

  before(async () => {
    database = await freshDatabase();
    const config = loadConfig({ DATABASE_URL: database.url }).database;
    db = openDatabase(config);
    await migrate(db);
    for (let i = 0; i < stored.length; i += 50) {
      await db('entries').insert(
        stored.slice(i, i + 50).map((id, j) => ({
          id,
          record: JSON.stringify({ id, n: i + j }),
          hash: `h-${id}`,
          related: JSON.stringify([`${id}-rel`]),
          fetched_at: 1000 + i + j,
          state: 'ok',
          updated_at: 0,
        })),
      );
    }
    reads = await openEntryReads(config, db, 3);
  });
  after(async () => {
    await reads?.close();
    await db?.destroy();
    await database?.drop();
  });

  it('answers each of many reads at once with its own row, more than one statement holds, repeats and unknown ids among them', async () => {
    // 200 stored ids, each asked twice, and 50 never stored: all in one turn,
    // shuffled, so that no order a database returns rows in matches the asking.
    const asked = shuffled([...stored, ...stored, ...Array.from({ length: 50 }, (_, i) => `missing-${i}`)], 20261207);
    expect(asked.slice(0, 10).join()).to.not.equal(asked.toSorted().slice(0, 10).join());
    const rows = await Promise.all(asked.map((id) => reads.one('entries', id)));
    rows.forEach((row, i) => {
      const id = asked[i] as string;
      if (id.startsWith('missing-')) {
        expect(row, id).to.equal(undefined);
        return;
      }
      expect(row?.id).to.equal(id);
      expect(JSON.parse(row?.record ?? 'null')).to.deep.equal({ id, n: stored.indexOf(id) });
      expect(row?.related).to.deep.equal([`${id}-rel`]);
      expect(row?.fetchedAt).to.equal(1000 + stored.indexOf(id));
    });
    // Callers of the same id get rows of their own.
    const first = asked.indexOf('r100');
    expect(rows[first]).to.not.equal(rows[asked.indexOf('r100', first + 1)]);
  });

  it('fails only the reads of a row that does not convert, and answers the rest of its statement', async () => {
    await db('entries').insert({ id: 'bad-related', record: '{}', hash: 'h', related: 'not json', fetched_at: 1, state: 'ok', updated_at: 0 });
    const [before, bad, after] = await Promise.allSettled([reads.one('entries', 'r001'), reads.one('entries', 'bad-related'), reads.one('entries', 'r002')]);
    expect(before.status === 'fulfilled' && before.value?.id).to.equal('r001');
    expect(bad.status).to.equal('rejected');
    expect(after.status === 'fulfilled' && after.value?.id).to.equal('r002');
  });

  it('answers what was asked before it closed, and refuses what is asked after', async () => {
    const config = loadConfig({ DATABASE_URL: database.url }).database;
    const own = await openEntryReads(config, db, 2);
    const asked = own.one('entries', 'r003');
    await own.close();
    expect((await asked)?.id).to.equal('r003');
    let refused: unknown;
    await own.one('entries', 'r003').catch((err: unknown) => (refused = err));
    expect(String(refused)).to.match(/closed/);
  });

  it('sees what was written since its last read', async () => {
    expect((await reads.one('entries', 'r000'))?.fetchedAt).to.equal(1000);
    await db('entries').where({ id: 'r000' }).update({ fetched_at: 5000 });
    expect((await reads.one('entries', 'r000'))?.fetchedAt).to.equal(5000);
  });
});
