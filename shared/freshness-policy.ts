// How fresh an entry is, in one place: the policy (built once from the
// settings), an entry's TTL, when its refresh is due, and how stale is too
// stale to serve. The read decision (server/freshness/decision.ts) asks these
// of what memory or the copy holds; the lease claim (db/entry-leases.ts) asks
// "is a refresh due" of a row in SQL, with the same policy's numbers, and
// test/freshness-agreement.test.ts holds the two to the same answers on both
// databases.
import type { FailureCode } from './failures.js';

export interface FreshnessPolicy {
  /** Younger records are fresh (unless the upstream said otherwise): ENTRY_TTL_SECONDS. */
  ttlMs: number;
  /** The upstream's 404 is answered from the copy this long: ENTRY_NOT_FOUND_TTL_SECONDS. */
  notFoundTtlMs: number;
  /** How long past its TTL a record may be served stale (unless the upstream said otherwise): ENTRY_MAX_STALE_SECONDS. */
  maxStaleMs: number;
  /** A hit past this fraction of its TTL refreshes the entry behind the answer (0: never): ENTRY_REFRESH_AHEAD. */
  refreshAhead: number;
}

/** What the rule reads of an entry, from memory or from its row. */
export interface EntryFreshness {
  /** 'none': a row with no record yet (only its refresh bookkeeping). */
  state: 'ok' | 'not-found' | 'none';
  /** When the record (or the upstream's 404) was fetched; null with state 'none'. */
  fetchedAt: number | null;
  /** The last refresh's failure, if the last refresh failed. */
  errorCode: FailureCode | null;
  /** The upstream's own TTL for this entry (Cache-Control, Expires); null: the policy's. */
  ttlMs: number | null;
  /** stale-while-revalidate: served stale this long past its TTL while refreshed; null: maxStaleMs. */
  staleWhileRevalidateMs: number | null;
  /** stale-if-error: served stale this long past its TTL while refreshing fails; null: maxStaleMs. */
  staleIfErrorMs: number | null;
}

/** The entry's TTL: the upstream's own, else the policy's for its state. */
export function ttlOf(entry: Pick<EntryFreshness, 'state' | 'ttlMs'> | undefined, policy: FreshnessPolicy): number {
  return entry?.ttlMs ?? (entry?.state === 'not-found' ? policy.notFoundTtlMs : policy.ttlMs);
}

/**
 * The age (ms since its fetch) from which an entry's refresh is due: its TTL;
 * for a refresh ahead, the ENTRY_REFRESH_AHEAD fraction of a record's TTL
 * (a 404 is never refreshed ahead). The lease claim says the same in SQL.
 */
export function refreshDueAtAgeMs(entry: Pick<EntryFreshness, 'state' | 'ttlMs'> | undefined, policy: FreshnessPolicy, ahead: boolean): number {
  const ttl = ttlOf(entry, policy);
  return ahead && entry?.state === 'ok' && policy.refreshAhead > 0 ? ttl * policy.refreshAhead : ttl;
}

/**
 * How stale is too stale: may a record `ageMs` old be served stale? For a
 * window past its own TTL — while one of its refreshes runs
 * (stale-while-revalidate) or while its refreshes fail (stale-if-error), as
 * the upstream said, else ENTRY_MAX_STALE_SECONDS — so every entry keeps its
 * window, however long its TTL. A window of 0: never stale.
 */
export function servableStale(entry: EntryFreshness, ageMs: number, policy: FreshnessPolicy): boolean {
  const window = (entry.errorCode === null ? entry.staleWhileRevalidateMs : entry.staleIfErrorMs) ?? policy.maxStaleMs;
  return window > 0 && ageMs <= ttlOf(entry, policy) + window;
}
