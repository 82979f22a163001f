// Lease and claim owners are `host:pid:nonce`, and a cloud host name alone may
// be 64 characters: the owner columns become text. SQLite never enforced the
// varchar length, so there is nothing to change there.
import type { Knex } from 'knex';

export async function up(db: Knex): Promise<void> {
  if (db.client.config.client !== 'pg') return;
  await db.raw('alter table entries alter column lease_owner type text');
  await db.raw('alter table outbox alter column claim_owner type text');
}

export async function down(db: Knex): Promise<void> {
  if (db.client.config.client !== 'pg') return;
  await db.raw('alter table entries alter column lease_owner type varchar(64)');
  await db.raw('alter table outbox alter column claim_owner type varchar(64)');
}
