// On Postgres, every stored refresh is announced (NOTIFY freshen_entries,
// '<owner> <id>'), so that other nodes drop the entry from their memory tiers
// at once instead of serving their older copy until its TTL. A trigger sends
// it in the storing statement's own transaction: no round trip more, and no
// notice for a store that rolls back. The owner is the lease holder who
// stored it (the store releases the lease), so a node can skip its own.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  if (db.client.config.client !== 'pg') return;
  await db.raw(`
    create function freshen_entry_stored() returns trigger language plpgsql as $$
    begin
      perform pg_notify('freshen_entries', coalesce(old.lease_owner, '') || ' ' || new.id);
      return null;
    end $$`);
  await db.raw(`
    create trigger freshen_entry_stored after update of fetched_at on entries
    for each row when (new.fetched_at is distinct from old.fetched_at)
    execute function freshen_entry_stored()`);
}

export async function down(db: Knex): Promise<void> {
  if (db.client.config.client !== 'pg') return;
  await db.raw('drop trigger freshen_entry_stored on entries');
  await db.raw('drop function freshen_entry_stored()');
}
