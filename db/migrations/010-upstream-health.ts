// upstream_health: the circuit breaker of each upstream origin, one row each,
// shared by every process on the database. A node that opens it stops the
// others asking within a second (they read the row that often); the probe
// after a cool-off is claimed on the row, so one runs across the fleet.
// Times are the database's (ms since the epoch), as the leases'.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('upstream_health', (t) => {
    t.text('origin').primary();
    t.text('state').notNullable().defaultTo('closed'); // closed | open
    // Open: no refresh is sent before this time; then one probe may be claimed.
    t.bigInteger('open_until').notNullable().defaultTo(0);
    // The cool-off the next failed probe doubles (up to the longest).
    t.bigInteger('cool_off_ms').notNullable().defaultTo(0);
    t.bigInteger('opened_at').notNullable().defaultTo(0);
    t.text('opened_by').nullable();
    t.text('reason').nullable();
    t.text('probe_owner').nullable();
    t.bigInteger('probe_until').notNullable().defaultTo(0);
    t.bigInteger('changed_at').notNullable().defaultTo(0);
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('upstream_health');
}
