// Listings of the entries table for operators and for publishing: the index
// of published pages, the re-publish command's pages of records, and the
// status page's failing entries.
import { orNull } from './entries.js';
import type { Db } from './knex.js';

/** Every stored record's id and title, for the index of published pages. */
export async function listTitles(db: Db): Promise<Array<{ id: string; title: string | null; fetchedAt: number }>> {
  const rows = (await db('entries').select('id', 'title', 'fetched_at').where({ state: 'ok' }).orderBy('id')) as Array<{
    id: string;
    title: string | null;
    fetched_at: number | string;
  }>;
  return rows.map((r) => ({ id: r.id, title: r.title, fetchedAt: Number(r.fetched_at) }));
}

export async function countRecords(db: Db): Promise<number> {
  const row = (await db('entries').where({ state: 'ok' }).count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

/** Stored records in id order, a page at a time (keyset: ids after `afterId`). */
export async function listRecords(
  db: Db,
  afterId: string,
  limit: number,
): Promise<Array<{ id: string; record: string; fetchedAt: number }>> {
  const rows = (await db('entries')
    .select('id', 'record', 'fetched_at')
    .where({ state: 'ok' })
    .andWhere('id', '>', afterId)
    .orderBy('id')
    .limit(limit)) as Array<{ id: string; record: string; fetched_at: number | string }>;
  return rows.map((r) => ({ id: r.id, record: r.record, fetchedAt: Number(r.fetched_at) }));
}

export interface RecentError {
  id: string;
  code: string;
  error: string;
  failures: number;
  at: number;
  nextRefreshAt: number;
  /** The entry's own TTL from the upstream's headers; null: the setting's. */
  ttlMs: number | null;
}

/** The latest refresh failures still standing (a success clears them). */
export async function listRecentErrors(db: Db, limit: number): Promise<RecentError[]> {
  const rows = (await db('entries')
    .select('id', 'error_code', 'error', 'error_count', 'error_at', 'next_refresh_at', 'ttl_ms')
    .whereNotNull('error_code')
    .orderBy('error_at', 'desc')
    .limit(limit)) as Array<{
    id: string;
    error_code: string;
    error: string | null;
    error_count: number;
    error_at: number | string;
    next_refresh_at: number | string;
    ttl_ms: number | string | null;
  }>;
  return rows.map((r) => ({
    id: r.id,
    code: r.error_code,
    error: r.error ?? '',
    failures: Number(r.error_count),
    at: Number(r.error_at),
    nextRefreshAt: Number(r.next_refresh_at),
    ttlMs: orNull(r.ttl_ms),
  }));
}
