// Work over tables that grow with the catalogue or the traffic, kept bounded:
// bulk changes in batches, each its own short statement, and sizes read from
// what the engine keeps anyway instead of counted.
import { isPostgres, rawRows, type Db } from './knex.js';

/** Rows one batch of a bulk change touches at most. */
export const PRUNE_BATCH = 1000;

/**
 * Runs `step(limit)` (a statement that changes at most `limit` rows and says
 * how many it changed) until a step changes fewer than `limit`: each step its
 * own statement, so no transaction holds a lock for the whole change (on
 * SQLite, the one write connection is free between steps).
 */
export async function inBatches(limit: number, step: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await step(limit);
    total += n;
    if (n < limit) return total;
    // Other writers (claims, stores) get the connection between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Up to this many rows a table's size is counted (a bounded read); past it, estimated. */
export const EXACT_UP_TO = 10_000;

/**
 * About how many rows `table` holds, never counting past EXACT_UP_TO: a
 * smaller table is counted exactly, a larger one estimated. Postgres: the
 * planner's figure (pg_class.reltuples), as of the table's last VACUUM or
 * ANALYZE — autovacuum keeps it within a few percent. SQLite: the span of
 * rowids (max − min + 1), from the ends of the rowid tree: exact while no
 * row was deleted, an upper bound after.
 */
export async function estimateRows(db: Db, table: 'entries' | 'outbox'): Promise<number> {
  const [counted] = rawRows<{ n: number | string }>(db, await db.raw(`select count(*) as n from (select 1 from ${table} limit ${EXACT_UP_TO + 1}) as firsts`));
  const n = Number(counted?.n ?? 0);
  return n <= EXACT_UP_TO ? n : Math.max(n, await engineEstimate(db, table));
}

async function engineEstimate(db: Db, table: 'entries' | 'outbox'): Promise<number> {
  if (isPostgres(db)) {
    const [row] = rawRows<{ n: number | string | null }>(db, await db.raw('select reltuples as n from pg_class where oid = to_regclass(?)', [table]));
    return Math.max(0, Math.round(Number(row?.n ?? 0)));
  }
  // Two subqueries: SQLite reads a lone min() or max() of the rowid from the tree's end, both in one would scan.
  const [row] = rawRows<{ n: number | null }>(db, await db.raw(`select (select max(rowid) from ${table}) - (select min(rowid) from ${table}) + 1 as n`));
  return Number(row?.n ?? 0);
}
