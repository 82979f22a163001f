// One clock for every process that shares a database: the database's. Each
// process reads the database clock (the sample with the shortest round trip
// of a few, so the error is at most half that round trip), counts on from it
// with its monotonic clock, and reads it again periodically; leases, claims,
// backoff and fetched-at are then written and compared in database time,
// whatever the node's own clock says — minutes off, or stepped meanwhile.
import { isPostgres, rawRows, type Db } from './knex.js';

export interface DbClock {
  /** Milliseconds since the epoch, by the database's clock. */
  now(): number;
  /** Database time minus this node's wall clock, as last measured. */
  offsetMs(): number;
  stop(): void;
}

const SAMPLES = 3;
/** How often the database clock is read again. */
export const CLOCK_REFRESH_MS = 30_000;

/** The database's own time in ms: clock_timestamp() on Postgres; SQLite runs in this process, on its clock. */
async function databaseTime(db: Db): Promise<number> {
  const sql = isPostgres(db)
    ? 'select (extract(epoch from clock_timestamp()) * 1000)::float8 as now'
    : "select (julianday('now') - 2440587.5) * 86400000.0 as now";
  const [row] = rawRows<{ now: number }>(db, await db.raw(sql));
  return Number(row?.now);
}

/**
 * Reads the database clock once (awaited, so a process starts on database
 * time), then every `refreshMs`. Between readings time runs on this process's
 * monotonic clock, so a step of the node's wall clock (NTP) changes nothing.
 */
export async function startDbClock(
  db: Db,
  options: { refreshMs?: number; onError?: (err: unknown) => void } = {},
): Promise<DbClock> {
  // Database time at a point of the monotonic clock.
  let base = { db: 0, mono: 0 };

  async function sync(): Promise<void> {
    let best: { rtt: number; db: number; mono: number } | undefined;
    for (let i = 0; i < SAMPLES; i++) {
      const before = performance.now();
      const at = await databaseTime(db);
      const after = performance.now();
      if (!best || after - before < best.rtt) best = { rtt: after - before, db: at, mono: (before + after) / 2 };
    }
    base = best as { db: number; mono: number };
  }

  await sync();
  const timer = setInterval(() => {
    // The last reading stays in use while the database is away.
    sync().catch((err: unknown) => options.onError?.(err));
  }, options.refreshMs ?? CLOCK_REFRESH_MS);
  timer.unref();
  const now = () => Math.round(base.db + (performance.now() - base.mono));
  return {
    now,
    offsetMs: () => now() - Date.now(),
    stop: () => clearInterval(timer),
  };
}
