// The SQL copy of upstream entries, with refresh bookkeeping. Times are
// milliseconds since the epoch (bigint) so short TTLs and leases are exact.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('entries', (t) => {
    t.string('id', 128).primary();
    // Last good upstream record as compact JSON text, its sha256 (the ETag) and
    // when it was fetched. state: 'ok' (record held), 'not-found' (upstream 404),
    // or 'none' (never fetched successfully).
    t.text('record').nullable();
    t.string('hash', 64).nullable();
    t.bigInteger('fetched_at').nullable();
    // The record's `related` ids as a JSON array, so reads need not parse the record.
    t.text('related').nullable();
    t.string('state', 16).notNullable().defaultTo('none');
    // The last failed refresh: its kind (a FailureCode or 'invalid'), words, time,
    // consecutive failures, and when the next refresh is allowed (backoff).
    t.string('error_code', 32).nullable();
    t.text('error').nullable();
    t.bigInteger('error_at').nullable();
    t.integer('error_count').notNullable().defaultTo(0);
    t.bigInteger('next_refresh_at').notNullable().defaultTo(0);
    // Refresh lease: one refresher at a time across processes. The generation
    // grows with every claim so a late result from a lost lease is not stored.
    t.string('lease_owner', 64).nullable();
    t.bigInteger('lease_until').notNullable().defaultTo(0);
    t.integer('lease_generation').notNullable().defaultTo(0);
    t.bigInteger('updated_at').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('entries');
}
