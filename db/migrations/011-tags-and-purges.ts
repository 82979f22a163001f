// Purging what the upstream or an operator says has changed:
// - entries.tags: the entry's cache tags as the upstream last gave them
//   (Surrogate-Key, Cache-Tag), space-separated, so a store tells whether
//   they changed without reading entry_tags.
// - entry_tags: one row per tag and entry, keyed tag first, so a purge by tag
//   finds its entries through the index; (source, id) finds an entry's own.
//   The source is the upstream the entry comes from ('entries' for the one
//   the env vars describe).
// - webhook_deliveries: the signatures of webhook calls already taken, until
//   their timestamp is too old to be taken anyway: a replay is refused by
//   every node of a fleet.
// - On Postgres, entry_purges: the ids (of one source) each purge batch touched, numbered, so
//   other nodes hear one notice per batch (its number) and read its ids.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.text('tags').nullable();
  });
  await db.schema.createTable('entry_tags', (t) => {
    t.text('tag').notNullable();
    t.text('source').notNullable();
    t.text('id').notNullable();
    t.primary(['tag', 'source', 'id']);
    t.index(['source', 'id', 'tag'], 'entry_tags_of_entry');
  });
  await db.schema.createTable('webhook_deliveries', (t) => {
    t.text('source').notNullable();
    t.text('signature').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.primary(['source', 'signature']);
    t.index(['expires_at'], 'webhook_deliveries_expiry');
  });
  if (db.client.config.client !== 'pg') return;
  await db.schema.createTable('entry_purges', (t) => {
    t.bigIncrements('seq').primary();
    t.text('source').notNullable();
    t.text('ids').notNullable();
    t.boolean('hard').notNullable();
    t.bigInteger('created_at').notNullable();
    t.index(['created_at'], 'entry_purges_age');
  });
}

export async function down(db: Knex): Promise<void> {
  if (db.client.config.client === 'pg') await db.schema.dropTable('entry_purges');
  await db.schema.dropTable('webhook_deliveries');
  await db.schema.dropTable('entry_tags');
  await db.schema.alterTable('entries', (t) => {
    t.dropColumn('tags');
  });
}
