// The page index reads one source's shard at a time: its index leads with the
// source, so a source's shard is one range of it, and a small source's index
// is not built by reading every source's rows of that hash range.
// On Postgres, entry_purges gets the source column a copy migrated by an
// earlier 011 (before it had one) lacks.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.raw('create index entries_source_shard_key on entries (source, shard_key)');
  await db.raw('drop index entries_shard_key');
  if (db.client.config.client === 'pg') {
    await db.raw("alter table entry_purges add column if not exists source text not null default 'entries'");
  }
}

export async function down(db: Knex): Promise<void> {
  await db.raw('create index entries_shard_key on entries (shard_key)');
  await db.raw('drop index entries_source_shard_key');
}
