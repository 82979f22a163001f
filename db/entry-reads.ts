// The cold path's one statement: entries' rows by id, for reads the memory
// tier could not answer. It runs prepared, past knex's query builder and pool
// bookkeeping (which cost more than the read itself: a primary-key read through
// knex takes about twice the main thread's time of one through the driver),
// and batched. SQLite: connections of its own, statements prepared once per
// batch size, a batch going to the least busy connection (WAL lets them read at
// once, each on a thread of libuv's pool). Postgres: a connection from knex's
// pool, the statement named so the server parses and plans it once per connection.
import sqlite3 from 'sqlite3';
import { fromSql, ROW_COLUMNS, type EntryRow, type SqlRow } from './entries.js';
import type { DatabaseConfig, Knex } from './knex.js';

export interface EntryReads {
  /** The stored row of one entry of a source, if there is one. */
  one(source: string, id: string): Promise<EntryRow | undefined>;
  /**
   * A read-only statement of some rows (an index shard), off the write
   * connection: on SQLite a reader connection, mapped, so a long read never
   * holds up claims and stores; on Postgres the pool.
   */
  all<T>(sql: string, bindings: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** At most this many ids in one statement, and the source: a short IN list, far under any engine's bound on bound values. */
const BATCH_MAX = 64;
const COLUMNS = ROW_COLUMNS.join(', ');

interface Waiter {
  resolve(row: EntryRow | undefined): void;
  reject(err: unknown): void;
}

interface Batcher {
  one(source: string, id: string): Promise<EntryRow | undefined>;
  /** No read is taken any more; resolves once those taken are answered. */
  drain(): Promise<void>;
}

/**
 * Reads asked for in the same turn of the event loop (the requests parsed in
 * one poll of the sockets) go out as one statement per source,
 * `where source = ? and id in (…)`: the driver's cost per call (a hop to
 * libuv's thread pool and back, the statement's bookkeeping) is paid once per
 * batch, not once per request.
 */
function batching(readMany: (source: string, ids: string[]) => Promise<SqlRow[]>): Batcher {
  // source → id → its readers
  let pending = new Map<string, Map<string, Waiter[]>>();
  let scheduled = false;
  let closed = false;
  const running = new Set<Promise<void>>();
  /** Never rejects: every waiter of the batch hears the outcome. */
  const answer = async (source: string, part: string[], batch: Map<string, Waiter[]>) => {
    try {
      const rows = await readMany(source, part);
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const id of part) {
        const row = byId.get(id);
        // Each waiter its own row object: callers may keep or change what they get.
        for (const w of batch.get(id) ?? []) {
          try {
            w.resolve(row && fromSql(row));
          } catch (err) {
            w.reject(err); // a row that does not convert fails its own reads only
          }
        }
      }
    } catch (err) {
      for (const id of part) for (const w of batch.get(id) ?? []) w.reject(err);
    }
  };
  const flush = () => {
    scheduled = false;
    const batches = pending;
    pending = new Map();
    for (const [source, batch] of batches) {
      const ids = [...batch.keys()];
      for (let i = 0; i < ids.length; i += BATCH_MAX) {
        const done = answer(source, ids.slice(i, i + BATCH_MAX), batch);
        running.add(done);
        // answer() never rejects; both paths given all the same, so nothing is left unheard.
        const settled = () => void running.delete(done);
        done.then(settled, settled);
      }
    }
  };
  return {
    one: (source, id) =>
      new Promise((resolve, reject) => {
        if (closed) return reject(new Error('the entry reads are closed'));
        let ofSource = pending.get(source);
        if (!ofSource) pending.set(source, (ofSource = new Map()));
        const waiters = ofSource.get(id);
        if (waiters) waiters.push({ resolve, reject });
        else ofSource.set(id, [{ resolve, reject }]);
        if (!scheduled) {
          scheduled = true;
          // After the poll phase: every request read from the sockets in it has asked by then.
          setImmediate(flush);
        }
      }),
    async drain() {
      closed = true;
      // What was asked for still goes out, on connections still open.
      if (scheduled) flush();
      await Promise.all(running);
    },
  };
}

interface PgConnection {
  query(q: { name?: string; text: string; values: unknown[] }): Promise<{ rows: SqlRow[] }>;
}

interface SqliteReader {
  db: sqlite3.Database;
  /** Prepared per number of ids, as batches come (shared while being prepared). */
  statements: Map<number, Promise<sqlite3.Statement>>;
  inFlight: number;
}

/**
 * `db`: the handle whose pool Postgres reads borrow from. `connections`: how
 * many SQLite connections read at once. `namedStatements`: Postgres reads by
 * id as one named statement per connection (DATABASE_NAMED_STATEMENTS).
 */
export async function openEntryReads(config: DatabaseConfig, db: Knex, connections: number, namedStatements = false): Promise<EntryReads> {
  if (config.client === 'postgres') return postgresReads(db, namedStatements);
  const readers = await Promise.all(Array.from({ length: Math.max(1, connections) }, () => openSqliteReader(config.filename)));
  const readMany = async (source: string, ids: string[]): Promise<SqlRow[]> => {
    let reader = readers[0] as SqliteReader;
    for (const r of readers) if (r.inFlight < reader.inFlight) reader = r;
    reader.inFlight++;
    try {
      const statement = await prepared(reader, ids.length);
      return await new Promise<SqlRow[]>((resolve, reject) =>
        // all(), not get(): it steps to the end, so the read's snapshot ends with it.
        statement.all<SqlRow>([source, ...ids], (err, rows) => (err ? reject(err) : resolve(rows))),
      );
    } finally {
      reader.inFlight--;
    }
  };
  const batcher = batching(readMany);
  const listings = new Set<Promise<unknown>>();
  return {
    one: batcher.one,
    all<T>(sql: string, bindings: readonly unknown[]) {
      let reader = readers[0] as SqliteReader;
      for (const r of readers) if (r.inFlight < reader.inFlight) reader = r;
      reader.inFlight++;
      const read = new Promise<T[]>((resolve, reject) => reader.db.all<T>(sql, bindings, (err, rows) => (err ? reject(err) : resolve(rows)))).finally(
        () => reader.inFlight--,
      );
      listings.add(read);
      void read.then(() => listings.delete(read), () => listings.delete(read));
      return read;
    },
    async close() {
      await batcher.drain();
      await Promise.allSettled(listings);
      await Promise.all(readers.map(closeSqliteReader));
    },
  };
}

function postgresReads(db: Knex, namedStatements: boolean): EntryReads {
  // One statement for any number of ids: an array parameter.
  const text = `select ${COLUMNS} from entries where source = $1 and id = any($2::text[])`;
  // Unnamed by default: a named statement outlives its transaction, and a
  // pooler in transaction mode would hand it to another session ("already exists").
  const query = namedStatements ? { name: 'freshen_entries_by_source_id', text } : { text };
  const readMany = async (source: string, ids: string[]): Promise<SqlRow[]> => {
    // Borrowed and given back as knex does, so its pool keeps its bound and its health checks.
    const conn = (await db.client.acquireConnection()) as PgConnection;
    try {
      return (await conn.query({ ...query, values: [source, ids] })).rows;
    } finally {
      await db.client.releaseConnection(conn);
    }
  };
  const batcher = batching(readMany);
  return {
    one: batcher.one,
    all: async <T>(sql: string, bindings: readonly unknown[]) => ((await db.raw(sql, bindings as Knex.RawBinding[])) as { rows: T[] }).rows,
    close: () => batcher.drain(),
  };
}

function prepared(reader: SqliteReader, n: number): Promise<sqlite3.Statement> {
  let statement = reader.statements.get(n);
  if (!statement) {
    const sql = `select ${COLUMNS} from entries where source = ? and id in (${Array.from({ length: n }, () => '?').join(', ')})`;
    statement = new Promise((resolve, reject) => {
      const s = reader.db.prepare(sql, (err) => (err ? reject(err) : resolve(s)));
    });
    reader.statements.set(n, statement);
    // A statement that failed to prepare is tried again by the next batch of its size.
    statement.catch(() => reader.statements.delete(n));
  }
  return statement;
}

function openSqliteReader(filename: string): Promise<SqliteReader> {
  return new Promise((resolve, reject) => {
    // Read-write, as a WAL reader may need to write the shared-memory index; it never writes rows.
    const db = new sqlite3.Database(filename, sqlite3.OPEN_READWRITE, (err) => {
      if (err) return reject(err);
      // Mapped, the file's pages are read without a system call each; 2 GiB is
      // the most SQLite maps unless built otherwise.
      db.exec('PRAGMA busy_timeout = 5000; PRAGMA mmap_size = 2147418112;', (err2) =>
        err2 ? reject(err2) : resolve({ db, statements: new Map(), inFlight: 0 }),
      );
    });
  });
}

async function closeSqliteReader(reader: SqliteReader): Promise<void> {
  // Every statement finalized, or the connection does not close (SQLITE_BUSY).
  const statements = await Promise.allSettled(reader.statements.values());
  await Promise.all(
    statements.map((s) => (s.status === 'fulfilled' ? new Promise<void>((resolve) => s.value.finalize(() => resolve())) : undefined)),
  );
  await new Promise<void>((resolve, reject) => reader.db.close((err) => (err ? reject(err) : resolve())));
}
