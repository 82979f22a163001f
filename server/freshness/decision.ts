// The freshness rule, as one pure function: given what is known of an entry
// (from the memory tier or the SQL copy), the time and the policy, what to do.
// Every read path asks it — one entry, a list, related entries, and a reader
// waiting on another process's refresh — and nothing else restates the rule.
// The clock is a parameter, so the rule is tested with no server and no sleep.

/** What a memory view or a stored row says of an entry, as far as the rule cares. */
export interface Known {
  /** 'none': a row with no record yet (only its refresh bookkeeping). */
  state: 'ok' | 'not-found' | 'none';
  /** When the record (or the upstream's 404) was fetched; null with state 'none'. */
  fetchedAt: number | null;
  /** The last refresh's failure, if the last refresh failed. */
  errorCode: string | null;
  /** No refresh before this time (epoch ms): the backoff after a failure. */
  nextRefreshAt: number;
  /** The upstream's own TTL for this entry (Cache-Control, Expires); null: the policy's. */
  ttlMs: number | null;
  /** stale-while-revalidate: served stale this long past its TTL while refreshed; null: to maxStaleMs. */
  staleWhileRevalidateMs: number | null;
  /** stale-if-error: served stale this long past its TTL while refreshing fails; null: to maxStaleMs. */
  staleIfErrorMs: number | null;
}

export interface Policy {
  /** Younger records are fresh (unless the upstream said otherwise). */
  ttlMs: number;
  /** The upstream's 404 is answered from the copy this long. */
  notFoundTtlMs: number;
  /** Older records are not served without a refresh (unless the upstream said otherwise). */
  maxStaleMs: number;
  /** A hit past this fraction of its TTL refreshes the entry behind the answer (0: never). */
  refreshAhead: number;
}

/** Where what is known came from: memory may be behind the SQL copy, the copy is the truth. */
export type Source = 'memory' | 'sql';

export type Decision =
  /** A fresh record: answer it; past the refresh-ahead point, refresh it behind the answer. */
  | { action: 'serve'; refreshAhead: boolean }
  /** The upstream said 404 recently: answer 404 from the copy. */
  | { action: 'not-found' }
  /** A stale record within ENTRY_MAX_STALE: answer it; refresh behind the answer unless backing off. */
  | { action: 'serve-stale'; refresh: boolean }
  /** Nothing to serve and the upstream failing: answer from the last failure until the backoff ends. */
  | { action: 'fail'; code: string; retryAt: number }
  /** Memory cannot decide (not fresh there): read the SQL copy, then decide again. */
  | { action: 'read-sql' }
  /** Nothing servable: a refresh must run, and the reader waits for it. */
  | { action: 'wait' };

/** Milliseconds since the entry was fetched; Infinity when nothing was. */
function ageMs(known: Known | undefined, now: number): number {
  return known && known.state !== 'none' && known.fetchedAt !== null ? now - known.fetchedAt : Infinity;
}

/** The entry's TTL: the upstream's own, else the policy's for its state. */
export function ttlOf(known: Pick<Known, 'state' | 'ttlMs'> | undefined, policy: Policy): number {
  return known?.ttlMs ?? (known?.state === 'not-found' ? policy.notFoundTtlMs : policy.ttlMs);
}

/** The oldest a record may be served stale: while its refreshes fail, or while one runs. */
function staleLimitMs(known: Known, ttl: number, policy: Policy): number {
  const window = known.errorCode === null ? known.staleWhileRevalidateMs : known.staleIfErrorMs;
  return window === null ? policy.maxStaleMs : ttl + window;
}

// The decisions that carry nothing, made once: a hit allocates nothing.
const SERVE: Decision = { action: 'serve', refreshAhead: false };
const SERVE_AHEAD: Decision = { action: 'serve', refreshAhead: true };
const NOT_FOUND: Decision = { action: 'not-found' };
const READ_SQL: Decision = { action: 'read-sql' };
const WAIT: Decision = { action: 'wait' };

export function decide(known: Known | undefined, source: Source, now: number, policy: Policy): Decision {
  const age = ageMs(known, now);
  const ttl = ttlOf(known, policy);
  if (known?.state === 'ok' && age < ttl) {
    return policy.refreshAhead > 0 && age >= ttl * policy.refreshAhead ? SERVE_AHEAD : SERVE;
  }
  // Anything memory holds that is not a fresh record is checked against the
  // SQL copy first: another process may have refreshed it.
  if (source === 'memory') return READ_SQL;
  if (known?.state === 'not-found' && age < ttl) return NOT_FOUND;
  if (known?.state === 'ok' && age <= staleLimitMs(known, ttl, policy)) {
    return { action: 'serve-stale', refresh: known.nextRefreshAt <= now };
  }
  // Nothing to serve: ask the upstream again only once the backoff ends.
  if (known?.errorCode && known.nextRefreshAt > now) {
    return { action: 'fail', code: known.errorCode, retryAt: known.nextRefreshAt };
  }
  return WAIT;
}
