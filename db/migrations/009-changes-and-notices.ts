// - entries.invalid_error: the problems the content team was last told of,
//   kept through other failures until a good record comes back, so that "valid
//   again" is sent even when a timeout came between (error_code alone forgot).
// - On Postgres, every stored refresh is counted: a sequence gives each store
//   its place (entries.change_seq, indexed) and the lease holder who stored it
//   (entries.changed_by), written by the trigger that NOTIFYs. A node whose
//   LISTEN does not hear (a pooler in transaction mode) reads the changes past
//   the last one it saw instead.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.text('invalid_error').nullable();
  });
  await db.raw("update entries set invalid_error = error where error_code = 'invalid'");
  if (db.client.config.client !== 'pg') return;
  await db.raw('create sequence freshen_entry_changes');
  await db.schema.alterTable('entries', (t) => {
    t.bigInteger('change_seq').nullable();
    t.text('changed_by').nullable();
  });
  await db.raw('create index entries_change_seq on entries (change_seq)');
  await db.raw(`
    create function freshen_entry_changed() returns trigger language plpgsql as $$
    begin
      new.change_seq := nextval('freshen_entry_changes');
      new.changed_by := coalesce(old.lease_owner, '');
      return new;
    end $$`);
  await db.raw(`
    create trigger freshen_entry_changed before update of fetched_at on entries
    for each row when (new.fetched_at is distinct from old.fetched_at)
    execute function freshen_entry_changed()`);
}

export async function down(db: Knex): Promise<void> {
  if (db.client.config.client === 'pg') {
    await db.raw('drop trigger freshen_entry_changed on entries');
    await db.raw('drop function freshen_entry_changed()');
    await db.raw('drop index entries_change_seq');
    await db.schema.alterTable('entries', (t) => {
      t.dropColumn('change_seq');
      t.dropColumn('changed_by');
    });
    await db.raw('drop sequence freshen_entry_changes');
  }
  await db.schema.alterTable('entries', (t) => {
    t.dropColumn('invalid_error');
  });
}
