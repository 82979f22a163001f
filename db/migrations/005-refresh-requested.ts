// An operator's refresh asked while another process holds the entry's lease:
// the flag is set on the row, and the holder — told by its store statement —
// refreshes again once its lease ends, instead of the request being dropped.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.boolean('refresh_requested').notNullable().defaultTo(false);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.dropColumn('refresh_requested');
  });
}
