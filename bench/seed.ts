// Stored entries for the benchmarks that read a copy larger than memory:
// made by the database itself (about 1 KB each), 100,000 rows a statement,
// with no upstream and no refresh: a million take seconds, not minutes.
import type { Knex } from '../db/knex.js';
import { isPostgres } from '../db/knex.js';
import { fillShardKeys } from '../db/entry-shards.js';
import { migrate } from '../db/migrate.js';

const FILLER = 'lorem ipsum dolor sit amet '.repeat(30);
const PART = 100_000;

/** The id of the i-th seeded entry: `<prefix>0000042`. */
const seededId = (prefix: string, i: number) => `${prefix}${String(i).padStart(7, '0')}`;

/** The record stored for a seeded id (the statements below write the same text). */
export function seededRecord(id: string): string {
  return JSON.stringify({ id, title: `Seeded ${id}`, body: FILLER, updatedAt: '2030-01-01T00:00:00Z', related: [] });
}

/**
 * Migrates `db` and stores n entries `<prefix>0000000`, `<prefix>0000001` …;
 * returns their ids. The prefix is letters only, so the records need no
 * escaping; a record's hash is its id's (the ETag only has to differ).
 */
export async function seedEntries(db: Knex, n: number, prefix = 's'): Promise<string[]> {
  if (!/^[a-z]+$/.test(prefix)) throw new Error(`seed prefix must be letters: ${prefix}`);
  await migrate(db);
  const now = Date.now();
  const pg = isPostgres(db);
  // The same text as seededRecord, put together in SQL.
  const record = `'{"id":"' || id || '","title":"Seeded ' || id || '","body":"${FILLER}","updatedAt":"2030-01-01T00:00:00Z","related":[]}'`;
  for (let from = 0; from < n; from += PART) {
    const to = Math.min(n, from + PART) - 1;
    const ids = pg
      ? `select cast(? as text) || lpad(i::text, 7, '0') as id from generate_series(${from}, ${to}) as i`
      : `with recursive n(i) as (select ${from} union all select i + 1 from n where i < ${to}) select printf('%s%07d', ?, i) as id from n`;
    await db.raw(
      `insert into entries (id, record, hash, related, title, fetched_at, state, updated_at)
       select id, ${record}, 'seed-' || id, '[]', 'Seeded ' || id, cast(? as bigint), 'ok', cast(? as bigint) from (${ids}) as seeded`,
      [now, now, prefix],
    );
    if (n > PART) process.stderr.write(`bench: seeded ${to + 1} of ${n} entries\n`);
  }
  // Each row's index shard, as freshen writes it with a row it makes (the database cannot hash an id the same way).
  let last = 0;
  await fillShardKeys(db, (walked) => {
    if (n > PART && walked - last >= 250_000) {
      last = walked;
      process.stderr.write(`bench: shard keys of ${walked} of ${n} entries\n`);
    }
  });
  return Array.from({ length: n }, (_, i) => seededId(prefix, i));
}
