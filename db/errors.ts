// Which database errors mean "the database is away or saturated" — refused or
// dropped connections, a server shutting down, no free connection within the
// acquire timeout, a statement past its timeout, a SQLite lock held past the
// busy timeout — as opposed to a fault in a statement. Those are answered
// 503 with Retry-After and end by themselves; the rest are server errors.

// Postgres SQLSTATEs: connection exceptions (08…), too many connections,
// query canceled (statement_timeout), admin/crash shutdown, cannot connect now.
const PG_UNAVAILABLE = new Set(['08000', '08001', '08003', '08004', '08006', '53300', '57014', '57P01', '57P02', '57P03']);
// Socket errors from the driver.
const SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);
const SQLITE = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED']);
// node-postgres raises these without a code; their text is its API (the
// last, its own bound on a statement: DATABASE_STATEMENT_TIMEOUT_MS). knex
// puts the statement in front ("BEGIN; - Connection terminated unexpectedly")
// even with compileSqlOnError off, for the BEGIN of a transaction.
const PG_CLIENT = /(^|; - )(Connection terminated (unexpectedly|due to connection timeout)|Query read timeout)$/;

export function isDatabaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { name, code, message } = err as { name?: unknown; code?: unknown; message?: unknown };
  if (name === 'KnexTimeoutError') return true;
  if (typeof code === 'string' && (PG_UNAVAILABLE.has(code) || SOCKET.has(code) || SQLITE.has(code))) return true;
  if (typeof message === 'string' && PG_CLIENT.test(message)) return true;
  // AggregateError (a refused connection to each address of a host name).
  const errors = (err as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.length > 0 && errors.every(isDatabaseUnavailable);
}
