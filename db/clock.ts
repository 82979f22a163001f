// One clock for every process that shares a database: the database's. Each
// process measures its offset to the database clock (the sample with the
// shortest round trip of a few, so the error is at most half that round
// trip) and refreshes it periodically; leases, claims, backoff and fetched-at
// are then all written and compared in database time, whatever the node's own
// clock says. A node whose clock is minutes off still agrees with the others.
import type { Db } from './knex.js';
import { isPostgres } from './knex.js';

export interface DbClock {
  /** Milliseconds since the epoch, by the database's clock. */
  now(): number;
  /** Database time minus this process's time, as last measured. */
  offsetMs(): number;
  /** Measure the offset again (the periodic refresh does this). */
  sync(): Promise<void>;
  stop(): void;
}

const SAMPLES = 3;

/** The database's own time in ms: clock_timestamp() on Postgres; SQLite runs in this process, on its clock. */
export async function databaseTime(db: Db): Promise<number> {
  const sql = isPostgres(db)
    ? 'select (extract(epoch from clock_timestamp()) * 1000)::float8 as now'
    : "select (julianday('now') - 2440587.5) * 86400000.0 as now";
  const rows = (await db.raw(sql)) as { rows?: Array<{ now: number }> } | Array<{ now: number }>;
  const row = Array.isArray(rows) ? rows[0] : rows.rows?.[0];
  return Number(row?.now);
}

/** Measures the offset once (awaited, so a process starts on database time), then every `refreshMs`. */
export async function startDbClock(
  db: Db,
  options: { refreshMs: number; onError?: (err: unknown) => void },
): Promise<DbClock> {
  let offset = 0;

  async function sync(): Promise<void> {
    let best: { rtt: number; offset: number } | undefined;
    for (let i = 0; i < SAMPLES; i++) {
      const before = Date.now();
      const at = await databaseTime(db);
      const after = Date.now();
      const sample = { rtt: after - before, offset: at - (before + after) / 2 };
      if (!best || sample.rtt < best.rtt) best = sample;
    }
    offset = Math.round((best as { offset: number }).offset);
  }

  await sync();
  const timer = setInterval(() => {
    // The last offset stays in use while the database is away.
    sync().catch((err: unknown) => options.onError?.(err));
  }, options.refreshMs);
  timer.unref();
  return {
    now: () => Date.now() + offset,
    offsetMs: () => offset,
    sync,
    stop: () => clearInterval(timer),
  };
}
