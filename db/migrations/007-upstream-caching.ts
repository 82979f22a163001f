// What the upstream said of each record as an HTTP cache would keep it: its
// validators (sent back on the next refresh, so an unchanged record is a 304
// and no download) and its own freshness (Cache-Control / Expires: the
// entry's TTL and how long it may be served stale). Null: it said nothing,
// and the settings decide.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.text('upstream_etag').nullable();
    t.text('upstream_last_modified').nullable();
    t.bigInteger('ttl_ms').nullable();
    t.bigInteger('stale_while_revalidate_ms').nullable();
    t.bigInteger('stale_if_error_ms').nullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.alterTable('entries', (t) => {
    t.dropColumn('upstream_etag');
    t.dropColumn('upstream_last_modified');
    t.dropColumn('ttl_ms');
    t.dropColumn('stale_while_revalidate_ms');
    t.dropColumn('stale_if_error_ms');
  });
}
