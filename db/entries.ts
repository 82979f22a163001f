// The entries table's rows as the rest of freshen sees them: the durable copy
// of upstream records, their refresh errors and backoff, and the refresh lease.
// The statements on it are split by what they serve: the refresh lease and
// its stores (entry-leases.ts, the hot path), reads by id (entry-reads.ts, the
// cold path), listings for operators (entry-listings.ts), retention
// (entry-retention.ts).
import { storedFailureCode, type FailureCode } from '../shared/failures.js';
import type { Db } from './knex.js';
import { DEFAULT_SOURCE } from '../shared/sources.js';

export type EntryState = 'ok' | 'not-found' | 'none';

export interface EntryRow {
  id: string;
  record: string | null;
  hash: string | null;
  related: string[];
  fetchedAt: number | null;
  state: EntryState;
  errorCode: FailureCode | null;
  error: string | null;
  errorAt: number | null;
  errorCount: number;
  nextRefreshAt: number;
  leaseOwner: string | null;
  leaseUntil: number;
  leaseGeneration: number;
  /** The upstream's own freshness of this record (null: it said nothing). */
  ttlMs: number | null;
  staleWhileRevalidateMs: number | null;
  staleIfErrorMs: number | null;
}

/** A row as the driver gives it. */
export interface SqlRow {
  id: string;
  record: string | null;
  hash: string | null;
  related: string | null;
  fetched_at: number | string | null;
  state: EntryState;
  error_code: string | null;
  error: string | null;
  error_at: number | string | null;
  error_count: number;
  next_refresh_at: number | string;
  lease_owner: string | null;
  lease_until: number | string;
  lease_generation: number;
  ttl_ms: number | string | null;
  stale_while_revalidate_ms: number | string | null;
  stale_if_error_ms: number | string | null;
}

export const orNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function fromSql(r: SqlRow): EntryRow {
  return {
    id: r.id,
    record: r.record,
    hash: r.hash,
    related: r.related ? (JSON.parse(r.related) as string[]) : [],
    fetchedAt: r.fetched_at === null ? null : Number(r.fetched_at),
    state: r.state,
    errorCode: storedFailureCode(r.error_code),
    error: r.error,
    errorAt: r.error_at === null ? null : Number(r.error_at),
    errorCount: Number(r.error_count),
    nextRefreshAt: Number(r.next_refresh_at),
    leaseOwner: r.lease_owner,
    leaseUntil: Number(r.lease_until),
    leaseGeneration: Number(r.lease_generation),
    ttlMs: orNull(r.ttl_ms),
    staleWhileRevalidateMs: orNull(r.stale_while_revalidate_ms),
    staleIfErrorMs: orNull(r.stale_if_error_ms),
  };
}

/** The columns of an EntryRow: a read takes no more (not the title, the validators). */
export const ROW_COLUMNS = [
  'id', 'record', 'hash', 'related', 'fetched_at', 'state', 'error_code', 'error', 'error_at', 'error_count',
  'next_refresh_at', 'lease_owner', 'lease_until', 'lease_generation', 'ttl_ms', 'stale_while_revalidate_ms', 'stale_if_error_ms',
] as const satisfies ReadonlyArray<keyof SqlRow>;

export async function getEntry(db: Db, id: string, source = DEFAULT_SOURCE): Promise<EntryRow | undefined> {
  const row = (await db('entries').select(ROW_COLUMNS).where({ source, id }).first()) as SqlRow | undefined;
  return row && fromSql(row);
}
