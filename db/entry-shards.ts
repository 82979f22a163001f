// The entries table by index shard: each row's shard key (shared/entry-id.ts
// shardKeyOf, written when the row is made), filled in bounded batches for
// rows stored before the key existed (or seeded by the database), and one
// shard's published records read as one indexed range.
import { shardKeyOf, shardRange } from '../shared/publish-layout.js';
import type { EntryReads } from './entry-reads.js';
import { rawRows, type Db, type Knex } from './knex.js';

const FILL_BATCH = 1000;

/**
 * Gives every row without a shard key its key, walking the whole table in
 * keyset pages of ids (the primary key): each page reads a bounded number of
 * rows and is one statement. `progress`: told the rows walked after each page.
 * Run by migration 008, when an entry's key was its id alone.
 */
export async function fillShardKeys(db: Db, progress?: (walked: number) => void): Promise<void> {
  let after = '';
  let walked = 0;
  for (;;) {
    const rows = rawRows<{ id: string }>(db, await db.raw('select id from entries where id > ? order by id limit ?', [after, FILL_BATCH]));
    if (rows.length === 0) return;
    const values = rows.map((_, i) => (i === 0 ? '(cast(? as text), cast(? as bigint))' : '(?, ?)')).join(', ');
    const bindings: Knex.RawBinding[] = rows.flatMap((r) => [r.id, shardKeyOf(r.id)]);
    // Typed in the first row, as Postgres cannot infer a VALUES list's types from parameters.
    await db.raw(
      `with v(id, shard_key) as (values ${values}) update entries set shard_key = v.shard_key from v where entries.id = v.id and entries.shard_key is null`,
      bindings,
    );
    walked += rows.length;
    after = (rows.at(-1) as { id: string }).id;
    progress?.(walked);
  }
}

export interface ShardEntry {
  id: string;
  title: string | null;
  fetchedAt: number;
}

/**
 * The published records of a source in one index shard, in id order, at most
 * `limit` of them: one range of the (source, shard key) index, read off the write connection.
 */
export async function listShard(reads: Pick<EntryReads, 'all'>, source: string, shard: number, shards: number, limit: number): Promise<ShardEntry[]> {
  const { from, to } = shardRange(shard, shards);
  const rows = await reads.all<{ id: string; title: string | null; fetched_at: number | string }>(
    "select id, title, fetched_at from entries where shard_key >= ? and shard_key < ? and source = ? and state = 'ok' order by id limit ?",
    [from, to, source, limit],
  );
  return rows.map((r) => ({ id: r.id, title: r.title, fetchedAt: Number(r.fetched_at) }));
}
