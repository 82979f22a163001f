// A catalogue of millions: every statement on a periodic or request path
// reads a bounded range through an index.
// - entries.shard_key: the id's hash (shared/entry-id.ts), so that one index
//   shard of published pages is one range of an index; filled here for the
//   rows already stored, in keyset batches.
// - entries_errors: the failing entries by time (the status page), partial.
// - entries_recordless: rows that hold no record by last change (retention), partial.
// - outbox_done: sent and dead messages by time, and mail cool-downs by time (retention).
import type { Knex } from 'knex';
import { fillShardKeys } from '../entry-shards.js';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.bigInteger('shard_key').nullable();
  });
  await fillShardKeys(db);
  await db.raw('create index entries_shard_key on entries (shard_key)');
  await db.raw('create index entries_errors on entries (error_at) where error_code is not null');
  await db.raw("create index entries_recordless on entries (updated_at) where state in ('not-found', 'none')");
  await db.raw('create index outbox_done on outbox (state, sent_at)');
  await db.raw('create index mail_cooldowns_last_at on mail_cooldowns (last_at)');
}

export async function down(db: Knex): Promise<void> {
  await db.raw('drop index mail_cooldowns_last_at');
  await db.raw('drop index outbox_done');
  await db.raw('drop index entries_recordless');
  await db.raw('drop index entries_errors');
  await db.raw('drop index entries_shard_key');
  await db.schema.alterTable('entries', (t) => {
    t.dropColumn('shard_key');
  });
}
