// Numbered, append-only migrations, each in its own transaction, run at start.
// Listed in code (not found on disk) so the compiled and source trees agree.
import type { Knex } from 'knex';
import { DEFAULT_POOL, openDatabase, type DatabaseConfig } from './knex.js';
import * as m001 from './migrations/001-entries.js';
import * as m002 from './migrations/002-outbox.js';
import * as m003 from './migrations/003-entry-title.js';
import * as m004 from './migrations/004-owners-of-any-length.js';
import * as m005 from './migrations/005-refresh-requested.js';
import * as m006 from './migrations/006-notify-stored.js';
import * as m007 from './migrations/007-upstream-caching.js';
import * as m008 from './migrations/008-catalogue.js';
import * as m009 from './migrations/009-changes-and-notices.js';
import * as m010 from './migrations/010-upstream-health.js';
import * as m011 from './migrations/011-tags-and-purges.js';
import * as m012 from './migrations/012-entries-by-source.js';
import * as m013 from './migrations/013-source-shards.js';

interface Migration {
  up(db: Knex): Promise<void>;
  down(db: Knex): Promise<void>;
}

const migrations: Record<string, Migration> = {
  '001-entries': m001,
  '002-outbox': m002,
  '003-entry-title': m003,
  '004-owners-of-any-length': m004,
  '005-refresh-requested': m005,
  '006-notify-stored': m006,
  '007-upstream-caching': m007,
  '008-catalogue': m008,
  '009-changes-and-notices': m009,
  '010-upstream-health': m010,
  '011-tags-and-purges': m011,
  '012-entries-by-source': m012,
  '013-source-shards': m013,
};

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).toSorted(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name] as Migration,
};

const TABLE = 'freshen_migrations';
const LOCK_TABLE = `${TABLE}_lock`;

/**
 * knex's own tables, made before knex looks: it inserts a lock row when it
 * finds none, and two nodes that both found none left two rows — a lock that
 * no node could take again ("Migration table is already locked", for good).
 * Here the one row has a fixed key; a second, left by that race, goes.
 */
async function migrationTables(db: Knex): Promise<void> {
  if (!(await db.schema.hasTable(TABLE))) {
    await db.schema.createTable(TABLE, (t) => {
      t.increments();
      t.string('name');
      t.integer('batch');
      t.timestamp('migration_time');
    });
  }
  if (!(await db.schema.hasTable(LOCK_TABLE))) {
    await db.schema.createTable(LOCK_TABLE, (t) => {
      t.increments('index').primary();
      t.integer('is_locked');
    });
  }
  await db(LOCK_TABLE).insert({ index: 1, is_locked: 0 }).onConflict('index').ignore();
  await db(LOCK_TABLE).where('index', '<>', 1).delete();
}

/** Every migration not run yet; with `upTo`, only those up to that one (a test of a later one starts there). */
export async function migrate(db: Knex, upTo?: string): Promise<void> {
  await migrationTables(db);
  const config = { migrationSource: source, tableName: TABLE };
  if (upTo === undefined) {
    await db.migrate.latest(config);
    return;
  }
  if (!(upTo in migrations)) throw new Error(`no migration ${upTo}`);
  for (const name of Object.keys(migrations).toSorted()) {
    if (name > upTo) return;
    await db.migrate.up({ ...config, name });
  }
}

/** Tries of a migration that lost the race to create the migrations' tables (about half a minute in all). */
const MIGRATE_TRIES = 30;
/** How long a node waits while another one migrates: a migration may copy a large table (minutes on SQLite). */
const MIGRATION_WAIT_MS = 30 * 60_000;

/**
 * Migrates on a connection of its own with no statement timeout: a migration
 * may rewrite a large table. Nodes started together on a fresh database race
 * to create the migrations' own tables (knex checks, then creates): the one
 * that loses tries again, and then waits on the migration lock as usual.
 */
export async function migrateDatabase(config: DatabaseConfig): Promise<void> {
  const db = openDatabase(config, { ...DEFAULT_POOL, max: 1, statementTimeoutMs: 0 });
  try {
    const started = Date.now();
    for (let tries = 1; ; tries++) {
      try {
        await migrate(db);
        return;
      } catch (err) {
        const gaveUp = anotherMigrates(err) ? Date.now() - started >= MIGRATION_WAIT_MS : tries >= MIGRATE_TRIES || !lostRace(err);
        if (gaveUp) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * tries) + Math.random() * 100));
      }
    }
  } finally {
    await db.destroy();
  }
}

/** Another node is migrating: it holds the migration lock, or (SQLite) writes the file past the busy timeout. */
function anotherMigrates(err: unknown): boolean {
  const e = err as { code?: string; name?: string };
  return e.name === 'MigrationLocked' || e.code === 'SQLITE_BUSY';
}

/** Another node made the migrations' own tables first. */
function lostRace(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  // Postgres: duplicate_table, or the unique index on type or relation names a concurrent CREATE TABLE trips.
  if (e.code === '42P07' || (e.code === '23505' && /pg_type|pg_class/.test(e.message ?? ''))) return true;
  return /freshen_migrations\S*["`] already exists|create table `?"?freshen_migrations/.test(e.message ?? '');
}
