// Listings of the entries table for operators and for publishing, each a
// bounded read through an index: the re-publish command's and the page
// repair's keyset pages of records, and the status page's failing entries.
// (One index shard's entries: entry-shards.ts.)
import { orNull } from './entries.js';
import type { Db } from './knex.js';

/** A source's stored records in id order, a page at a time (keyset: ids after `afterId`). */
export async function listRecords(
  db: Db,
  source: string,
  afterId: string,
  limit: number,
): Promise<Array<{ id: string; record: string; hash: string; fetchedAt: number }>> {
  const rows = (await db('entries')
    .select('id', 'record', 'hash', 'fetched_at')
    .where({ source, state: 'ok' })
    .andWhere('id', '>', afterId)
    .orderBy('id')
    .limit(limit)) as Array<{ id: string; record: string; hash: string; fetched_at: number | string }>;
  return rows.map((r) => ({ id: r.id, record: r.record, hash: r.hash, fetchedAt: Number(r.fetched_at) }));
}

/** What the page repair compares an entry's page with: its record's hash (null: no record), and when that was fetched. */
export interface PageState {
  hash: string | null;
  fetchedAt: number | null;
}

interface PageStateRow {
  id: string;
  hash: string | null;
  state: string;
  fetched_at: number | string | null;
}

const pageState = (r: PageStateRow): PageState => ({ hash: r.state === 'ok' ? r.hash : null, fetchedAt: r.fetched_at === null ? null : Number(r.fetched_at) });

/** Every entry's page state of a source in id order, a page at a time (keyset on the primary key). */
export async function listRecordHashes(db: Db, source: string, afterId: string, limit: number): Promise<Array<{ id: string } & PageState>> {
  const rows = (await db('entries').select('id', 'hash', 'state', 'fetched_at').where({ source }).andWhere('id', '>', afterId).orderBy('id').limit(limit)) as PageStateRow[];
  return rows.map((r) => ({ id: r.id, ...pageState(r) }));
}

/** The page states of these ids (no row: no record), by the primary key. */
export async function recordHashesOf(db: Db, source: string, ids: readonly string[]): Promise<Map<string, PageState>> {
  const found = new Map<string, PageState>(ids.map((id) => [id, { hash: null, fetchedAt: null }]));
  if (ids.length === 0) return found;
  const rows = (await db('entries').select('id', 'hash', 'state', 'fetched_at').where({ source }).whereIn('id', ids)) as PageStateRow[];
  for (const r of rows) found.set(r.id, pageState(r));
  return found;
}

/** The stored records of these ids (at most as many as asked: the primary key). */
export async function recordsOf(db: Db, source: string, ids: readonly string[]): Promise<Array<{ id: string; record: string; hash: string; fetchedAt: number }>> {
  if (ids.length === 0) return [];
  const rows = (await db('entries').select('id', 'record', 'hash', 'fetched_at').where({ source, state: 'ok' }).whereIn('id', ids)) as Array<{
    id: string;
    record: string;
    hash: string;
    fetched_at: number | string;
  }>;
  return rows.map((r) => ({ id: r.id, record: r.record, hash: r.hash, fetchedAt: Number(r.fetched_at) }));
}

export interface RecentError {
  source: string;
  id: string;
  code: string;
  error: string;
  failures: number;
  at: number;
  nextRefreshAt: number;
  /** The entry's own TTL from the upstream's headers; null: the setting's. */
  ttlMs: number | null;
}

/** The latest refresh failures still standing (a success clears them), through the partial index entries_errors. */
export async function listRecentErrors(db: Db, limit: number): Promise<RecentError[]> {
  const rows = (await db('entries')
    .select('source', 'id', 'error_code', 'error', 'error_count', 'error_at', 'next_refresh_at', 'ttl_ms')
    .whereNotNull('error_code')
    .orderBy('error_at', 'desc')
    .limit(limit)) as Array<{
    source: string;
    id: string;
    error_code: string;
    error: string | null;
    error_count: number;
    error_at: number | string;
    next_refresh_at: number | string;
    ttl_ms: number | string | null;
  }>;
  return rows.map((r) => ({
    source: r.source,
    id: r.id,
    code: r.error_code,
    error: r.error ?? '',
    failures: Number(r.error_count),
    at: Number(r.error_at),
    nextRefreshAt: Number(r.next_refresh_at),
    ttlMs: orNull(r.ttl_ms),
  }));
}
