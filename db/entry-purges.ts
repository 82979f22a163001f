// Purges: entries marked stale (soft) or dropped (hard), one bounded batch of
// ids a statement; and, on Postgres, the record of each batch that tells the
// other nodes which memory copies to drop (entry_purges, migration 011): one
// row and one NOTIFY a batch, never one a row.
import type { FreshnessPolicy } from '../shared/freshness-policy.js';
import { inBatches, PRUNE_BATCH } from './bulk.js';
import { isPostgres, rawRows, type Db } from './knex.js';

/** The channel a purge batch's number is sent on. */
export const PURGED_CHANNEL = 'freshen_purges';

/**
 * Marks these entries stale from `now`: a record's TTL ends now unless it
 * ended before (its stale window then stands, as it was), so the next read
 * serves it stale and refreshes it — in full: its validators are dropped, as
 * the upstream says it changed. Its backoff ends too, and a refresh running
 * now is followed by another (it may have fetched the record before the
 * change). Returns the ids of the rows there were.
 */
export async function markStale(db: Db, source: string, ids: readonly string[], now: number, policy: Pick<FreshnessPolicy, 'ttlMs' | 'notFoundTtlMs'>): Promise<string[]> {
  if (ids.length === 0) return [];
  // The entry's TTL as the policy reads it (shared/freshness-policy.ts ttlOf); its age, never below 0.
  const ttl = "coalesce(ttl_ms, case when state = 'not-found' then cast(? as bigint) else cast(? as bigint) end)";
  const age = 'case when cast(? as bigint) - fetched_at > 0 then cast(? as bigint) - fetched_at else 0 end';
  const sql =
    `update entries set ttl_ms = case when fetched_at is not null and ${age} < ${ttl} then ${age} else ttl_ms end, ` +
    'upstream_etag = null, upstream_last_modified = null, next_refresh_at = 0, ' +
    'refresh_requested = case when lease_until >= ? then true else refresh_requested end, updated_at = ? ' +
    `where source = ? and id in (${ids.map(() => '?').join(', ')}) returning id`;
  const bindings = [now, now, policy.notFoundTtlMs, policy.ttlMs, now, now, now, now, source, ...ids];
  return rawRows<{ id: string }>(db, await db.raw(sql, bindings)).map((r) => r.id);
}

/** Drops these entries and their tags. Returns the ids of the rows there were. */
export async function drop(db: Db, source: string, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  return db.transaction(async (trx) => {
    const gone = rawRows<{ id: string }>(trx, await trx.raw(`delete from entries where source = ? and id in (${ids.map(() => '?').join(', ')}) returning id`, [source, ...ids]));
    await trx('entry_tags').where({ source }).whereIn('id', ids).delete();
    return gone.map((r) => r.id);
  });
}

/** Postgres: records a batch and tells the other nodes its number, in one statement. */
export async function announcePurge(db: Db, source: string, ids: readonly string[], hard: boolean, now: number): Promise<void> {
  await db.raw('with batch as (insert into entry_purges (source, ids, hard, created_at) values (?, ?, ?, ?) returning seq) select pg_notify(?, cast(seq as text)) from batch', [
    source,
    JSON.stringify(ids),
    hard,
    now,
    PURGED_CHANNEL,
  ]);
}

export interface PurgeBatch {
  seq: number;
  source: string;
  ids: string[];
  hard: boolean;
}

interface PurgeRow {
  seq: number | string;
  source: string;
  ids: string;
  hard: boolean;
}

const batchOf = (r: PurgeRow): PurgeBatch => ({ seq: Number(r.seq), source: r.source, ids: JSON.parse(r.ids) as string[], hard: Boolean(r.hard) });

/** The batch numbered `seq`, if it is still kept. */
export async function purgeBatch(db: Db, seq: number): Promise<PurgeBatch | undefined> {
  const row = (await db('entry_purges').select('seq', 'source', 'ids', 'hard').where({ seq }).first()) as PurgeRow | undefined;
  return row && batchOf(row);
}

/** Up to `limit` batches numbered past `after`, in order (polling, where LISTEN does not hear). */
export async function purgeBatchesAfter(db: Db, after: number, limit: number): Promise<PurgeBatch[]> {
  const rows = (await db('entry_purges').select('seq', 'source', 'ids', 'hard').where('seq', '>', after).orderBy('seq').limit(limit)) as PurgeRow[];
  return rows.map(batchOf);
}

/** The last batch's number (0: none), where polling starts. */
export async function lastPurgeBatch(db: Db): Promise<number> {
  const [row] = rawRows<{ n: number | string | null }>(db, await db.raw('select max(seq) as n from entry_purges'));
  return Number(row?.n ?? 0);
}

/**
 * Postgres: batches recorded before `before` go. A node listening that loses
 * its connection forgets its whole memory tier on return; one that polls and
 * cannot reach the database for longer than this would miss what went.
 */
export async function prunePurgeBatches(db: Db, before: number): Promise<number> {
  if (!isPostgres(db)) return 0;
  return inBatches(PRUNE_BATCH, (limit) =>
    db('entry_purges').whereIn('seq', db('entry_purges').select('seq').where('created_at', '<', before).limit(limit)).delete(),
  );
}
