// A fresh database per test file: a temporary SQLite file, or — when
// TEST_DATABASE_URL names a Postgres server — a new database on it, dropped after.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexModule from 'knex';
import { openDatabase, type Knex } from '../../db/knex.js';
import { migrate } from '../../db/migrate.js';
import { loadConfig } from '../../server/config/config.js';

const knex = knexModule as unknown as typeof knexModule.knex;

export interface TestDatabase {
  url: string;
  client: 'sqlite' | 'postgres';
  drop(): Promise<void>;
}

export async function freshDatabase(): Promise<TestDatabase> {
  const admin = process.env.TEST_DATABASE_URL;
  if (admin) {
    const name = `freshen_test_${randomBytes(6).toString('hex')}`;
    const db = knex({ client: 'pg', connection: admin });
    try {
      await db.raw(`create database ${name}`);
    } finally {
      await db.destroy();
    }
    const url = new URL(admin);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      client: 'postgres',
      async drop() {
        const server = knex({ client: 'pg', connection: admin });
        try {
          await server.raw(`drop database if exists ${name} with (force)`);
        } finally {
          await server.destroy();
        }
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'freshen-test-'));
  return {
    url: `sqlite:${join(dir, 'freshen.sqlite')}`,
    client: 'sqlite',
    drop: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A fresh database, migrated, with a knex handle on it; close() destroys the handle and drops the database. */
export async function migratedDatabase(): Promise<{ database: TestDatabase; db: Knex; close(): Promise<void> }> {
  const database = await freshDatabase();
  const db = openDatabase(loadConfig({ DATABASE_URL: database.url }).database);
  await migrate(db);
  return {
    database,
    db,
    async close() {
      await db.destroy();
      await database.drop();
    },
  };
}
