// The durable outbox: every message is a row before anyone tries to send it.
// mail_cooldowns makes "once per key in a window" one atomic upsert.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  await db.schema.createTable('outbox', (t) => {
    t.increments('id').primary();
    t.string('kind', 32).notNullable(); // 'invalid-data' | 'server-error'
    t.text('recipients').notNullable(); // JSON array of addresses
    t.text('subject').notNullable();
    t.text('text_body').notNullable();
    t.text('html_body').notNullable();
    t.string('dedupe_key', 200).notNullable();
    // pending → sending (claimed) → sent | pending (retry) | dead
    t.string('state', 16).notNullable().defaultTo('pending');
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at').notNullable();
    t.string('claim_owner', 64).nullable();
    t.bigInteger('claim_until').notNullable().defaultTo(0);
    t.string('message_id', 200).notNullable();
    t.text('last_error').nullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('sent_at').nullable();
    t.index(['state', 'next_attempt_at']);
  });
  await db.schema.createTable('mail_cooldowns', (t) => {
    t.string('key', 200).primary();
    t.bigInteger('last_at').notNullable();
  });
}

export async function down(db: Knex): Promise<void> {
  await db.schema.dropTable('mail_cooldowns');
  await db.schema.dropTable('outbox');
}
