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

/** Bounds on one process's connections (DATABASE_POOL_MAX and the timeouts). */
export interface DatabasePool {
  readonly max: number;
  /** How long a query waits for a connection before failing (knex's default is 60 s). */
  readonly acquireTimeoutMs: number;
  /** A Postgres statement not answered this long fails on freshen's side, its connection closed; 0: no limit (migrations). */
  readonly statementTimeoutMs: number;
  /**
   * Postgres reads by id as a named statement, parsed and planned once per
   * connection: only on connections that last (direct, or a pooler in
   * session mode); a pooler in transaction mode hands them to other sessions.
   */
  readonly namedStatements: boolean;
}

/** Used where no setting applies (tests, a mailer's own few connections). */
export const DEFAULT_POOL: DatabasePool = { max: 5, acquireTimeoutMs: 2000, statementTimeoutMs: 10_000, namedStatements: false };
export type { Knex };

// knex is CommonJS; under NodeNext its default export arrives as the module object.
const knex = knexModule as unknown as typeof knexModule.knex;

// Times are bigint milliseconds; pg returns int8 as strings unless told otherwise.
// Every value we store fits in a double exactly.
types.setTypeParser(20, Number);

/**
 * A SQLite handle has one connection, as SQLite has one writer (reads by id
 * have connections of their own: db/entry-reads.ts).
 */
export function openDatabase(config: DatabaseConfig, pool: DatabasePool = DEFAULT_POOL): Knex {
  if (config.client === 'sqlite') {
    mkdirSync(dirname(config.filename), { recursive: true });
    return knex({
      client: 'sqlite3',
      connection: { filename: config.filename },
      useNullAsDefault: true,
      acquireConnectionTimeout: pool.acquireTimeoutMs,
      compileSqlOnError: false,
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
    connection: {
      connectionString: config.url,
      connectionTimeoutMillis: pool.acquireTimeoutMs,
      // Bounded from this side, not with a start-up parameter (a pooler in
      // transaction mode refuses those): a statement not answered in time fails
      // here, whether the server is slow or the network lost its packets.
      ...(pool.statementTimeoutMs > 0 ? { query_timeout: pool.statementTimeoutMs } : {}),
      // A connection whose peer vanished (a NAT that forgot it, a failover) is found out.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
    pool: {
      min: 0,
      max: pool.max,
      // A connection whose statement timed out still waits for its answer:
      // it is closed, never handed to the next statement to wait behind.
      validate: (connection: { readyForQuery?: boolean }) => connection.readyForQuery === true,
    },
    acquireConnectionTimeout: pool.acquireTimeoutMs,
    // An error's message must not embed the statement and its bindings: it is
    // logged, and fingerprinted for the admins' notices.
    compileSqlOnError: false,
  });
}

export function isPostgres(db: Db): boolean {
  return db.client.config.client === 'pg';
}

/** The rows of a `db.raw` statement: SQLite's driver gives them, pg's result holds them. */
export function rawRows<T>(db: Db, result: unknown): T[] {
  return (isPostgres(db) ? (result as { rows: T[] }).rows : result) as T[];
}

interface SqliteConnection {
  exec(sql: string, callback: (err: Error | null) => void): void;
}

/** Is the database answering? (for /readyz) */
export async function ping(db: Db): Promise<void> {
  await db.raw('select 1');
}
