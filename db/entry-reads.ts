// The cold path's one statement: an entry's row by id, for a read the memory
// tier could not answer. It runs prepared, past knex's query builder and pool
// bookkeeping (which cost more than the read itself: a primary-key read through
// knex takes about twice the main thread's time of one through the driver).
// SQLite: connections of its own, each with the statement prepared once, the
// read going to the least busy (WAL lets them read at once, each on a thread of
// libuv's pool). Postgres: a connection from knex's pool, with the statement
// named so the server parses and plans it once per connection.
import sqlite3 from 'sqlite3';
import { fromSql, ROW_COLUMNS, type EntryRow, type SqlRow } from './entries.js';
import type { DatabaseConfig, Knex } from './knex.js';

export interface EntryReads {
  /** The stored row of one entry, if there is one. */
  one(id: string): Promise<EntryRow | undefined>;
  close(): Promise<void>;
}

const SELECT = `select ${ROW_COLUMNS.join(', ')} from entries where id = `;

interface PgConnection {
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: SqlRow[] }>;
}

interface SqliteReader {
  db: sqlite3.Database;
  statement: sqlite3.Statement;
  inFlight: number;
}

/**
 * `db`: the handle whose pool Postgres reads borrow from. `connections`: how
 * many SQLite connections read at once.
 */
export async function openEntryReads(config: DatabaseConfig, db: Knex, connections: number): Promise<EntryReads> {
  if (config.client === 'postgres') return postgresReads(db);
  const readers = await Promise.all(Array.from({ length: Math.max(1, connections) }, () => openSqliteReader(config.filename)));
  return {
    one(id) {
      let reader = readers[0] as SqliteReader;
      for (const r of readers) if (r.inFlight < reader.inFlight) reader = r;
      reader.inFlight++;
      return new Promise<EntryRow | undefined>((resolve, reject) => {
        // all(), not get(): it steps to the end, so the read's snapshot ends with it.
        reader.statement.all<SqlRow>(id, (err, rows) => {
          reader.inFlight--;
          if (err) reject(err);
          else resolve(rows[0] && fromSql(rows[0]));
        });
      });
    },
    async close() {
      await Promise.all(readers.map(closeSqliteReader));
    },
  };
}

function postgresReads(db: Knex): EntryReads {
  const query = { name: 'freshen_entry_by_id', text: `${SELECT}$1`, values: [] as unknown[] };
  return {
    async one(id) {
      // Borrowed and given back as knex does, so its pool keeps its bound and its health checks.
      const conn = (await db.client.acquireConnection()) as PgConnection;
      try {
        const { rows } = await conn.query({ ...query, values: [id] });
        return rows[0] && fromSql(rows[0]);
      } finally {
        await db.client.releaseConnection(conn);
      }
    },
    close: async () => undefined,
  };
}

function openSqliteReader(filename: string): Promise<SqliteReader> {
  return new Promise((resolve, reject) => {
    // Read-write, as a WAL reader may need to write the shared-memory index; it never writes rows.
    const db = new sqlite3.Database(filename, sqlite3.OPEN_READWRITE, (err) => {
      if (err) return reject(err);
      // Mapped, the file's pages are read without a system call each (most of a cold read's cost).
      db.exec('PRAGMA busy_timeout = 5000; PRAGMA mmap_size = 1073741824;', (err2) => {
        if (err2) return reject(err2);
        const statement = db.prepare(`${SELECT}?`, (err3) => (err3 ? reject(err3) : resolve({ db, statement, inFlight: 0 })));
      });
    });
  });
}

function closeSqliteReader(reader: SqliteReader): Promise<void> {
  return new Promise((resolve, reject) => {
    reader.statement.finalize(() => reader.db.close((err) => (err ? reject(err) : resolve())));
  });
}
