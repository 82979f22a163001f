// Entries are keyed by their source and id: one service may serve several
// upstreams (sources), each with ids of its own. Rows stored before belong to
// the source the env vars describe, `entries`. On Postgres the stores'
// NOTIFY names the source too ('<owner> <source> <id>').
// SQLite cannot change a primary key in place: the table is copied (knex's
// rebuild, indexes and all), which takes a while on a large copy.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.text('source').notNullable().defaultTo('entries');
  });
  if (db.client.config.client === 'pg') {
    await db.raw('alter table entries drop constraint entries_pkey, add primary key (source, id)');
    await db.raw(`
      create or replace function freshen_entry_stored() returns trigger language plpgsql as $$
      begin
        perform pg_notify('freshen_entries', coalesce(old.lease_owner, '') || ' ' || new.source || ' ' || new.id);
        return null;
      end $$`);
    return;
  }
  // knex's primary() on SQLite rebuilds the table with this key in place of the old one: one copy.
  await db.schema.alterTable('entries', (t) => {
    t.primary(['source', 'id']);
  });
}

export async function down(db: Knex): Promise<void> {
  if (db.client.config.client === 'pg') {
    await db.raw(`
      create or replace function freshen_entry_stored() returns trigger language plpgsql as $$
      begin
        perform pg_notify('freshen_entries', coalesce(old.lease_owner, '') || ' ' || new.id);
        return null;
      end $$`);
    await db.raw('alter table entries drop constraint entries_pkey, add primary key (id)');
  } else {
    await db.schema.alterTable('entries', (t) => {
      t.dropPrimary();
      t.primary(['id']);
    });
  }
  await db.schema.alterTable('entries', (t) => {
    t.dropColumn('source');
  });
}
