// A fresh database per test file: a temporary SQLite file, or — when
// TEST_DATABASE_URL names a Postgres server — a new database on it, dropped after.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import knexModule from 'knex';

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
