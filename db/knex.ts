// Opens the database named by DATABASE_URL: a SQLite file (WAL, busy timeout)
// or Postgres, behind the same knex interface. Dialect differences stay in db/.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knexModule, { type Knex } from 'knex';
import { types } from 'pg';

export type Db = Knex | Knex.Transaction;

/** Which database to open: read from DATABASE_URL by the config. */
export type DatabaseConfig =
  | { readonly client: 'sqlite'; readonly url: string; readonly filename: string }
  | { readonly client: 'postgres'; readonly url: string };
export type { Knex };

// knex is CommonJS; under NodeNext its default export arrives as the module object.
const knex = knexModule as unknown as typeof knexModule.knex;

// Times are bigint milliseconds; pg returns int8 as strings unless told otherwise.
// Every value we store fits in a double exactly.
types.setTypeParser(20, Number);

export function openDatabase(config: DatabaseConfig): Knex {
  if (config.client === 'sqlite') {
    mkdirSync(dirname(config.filename), { recursive: true });
    return knex({
      client: 'sqlite3',
      connection: { filename: config.filename },
      useNullAsDefault: true,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: SqliteConnection, done: (err: Error | null, conn: unknown) => void) {
          // WAL lets readers in other processes proceed while one writes; the busy
          // timeout makes a writer wait for a lock instead of failing with SQLITE_BUSY.
          conn.exec(
            'PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;',
            (err) => done(err, conn),
          );
        },
      },
    });
  }
  return knex({
    client: 'pg',
    connection: config.url,
    pool: { min: 0, max: 10 },
  });
}

export function isPostgres(db: Db): boolean {
  return db.client.config.client === 'pg';
}

interface SqliteConnection {
  exec(sql: string, callback: (err: Error | null) => void): void;
}

/** Is the database answering? (for /readyz) */
export async function ping(db: Db): Promise<void> {
  await db.raw('select 1');
}
