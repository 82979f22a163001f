// The record's title beside it, so the index of published pages is one
// narrow query instead of parsing every record.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.text('title').nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.dropColumn('title');
  });
}
