// Stored entries for the benchmarks that read a copy larger than memory:
// made by the database itself (about 1 KB each), 100,000 rows a statement,
// with no upstream and no refresh: a million take seconds, not minutes.
import type { Knex } from '../db/knex.js';
import { isPostgres } from '../db/knex.js';
import { migrate } from '../db/migrate.js';
import { shardKeyOf } from '../shared/publish-layout.js';

const FILLER = 'lorem ipsum dolor sit amet '.repeat(30);
const PART = 100_000;
/** Shard keys sent a statement: two bindings each, within both engines' limits. */
const KEYS_PART = 5000;

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
  // Each row's index shard, as freshen gives a row it makes (the database
  // cannot hash an id as freshen does): computed here, joined in by number.
  await db.raw('drop table if exists bench_seed_keys');
  await db.raw('create table bench_seed_keys (i integer primary key, shard_key bigint not null)');
  for (let from = 0; from < n; from += KEYS_PART) {
    const to = Math.min(n, from + KEYS_PART);
    const values = Array.from({ length: to - from }, () => '(?, ?)').join(', ');
    await db.raw(`insert into bench_seed_keys (i, shard_key) values ${values}`, Array.from({ length: to - from }, (_, k) => [from + k, shardKeyOf(seededId(prefix, from + k))]).flat());
  }
  // The same text as seededRecord, put together in SQL.
  const record = `'{"id":"' || id || '","title":"Seeded ' || id || '","body":"${FILLER}","updatedAt":"2030-01-01T00:00:00Z","related":[]}'`;
  for (let from = 0; from < n; from += PART) {
    const to = Math.min(n, from + PART) - 1;
    const ids = pg
      ? `select i, cast(? as text) || lpad(i::text, 7, '0') as id from generate_series(${from}, ${to}) as i`
      : `with recursive n(i) as (select ${from} union all select i + 1 from n where i < ${to}) select i, printf('%s%07d', ?, i) as id from n`;
    await db.raw(
      `insert into entries (id, shard_key, record, hash, related, title, fetched_at, state, updated_at)
       select id, k.shard_key, ${record}, 'seed-' || id, '[]', 'Seeded ' || id, cast(? as bigint), 'ok', cast(? as bigint)
       from (${ids}) as seeded join bench_seed_keys k on k.i = seeded.i`,
      [now, now, prefix],
    );
    if (n > PART) process.stderr.write(`bench: seeded ${to + 1} of ${n} entries\n`);
  }
  await db.raw('drop table bench_seed_keys');
  return Array.from({ length: n }, (_, i) => seededId(prefix, i));
}
