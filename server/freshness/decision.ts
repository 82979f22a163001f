// The freshness rule, as one pure function: given what is known of an entry
// (from the memory tier or the SQL copy), the time and the policy, what to do.
// Every read path asks it — one entry, a list, related entries, and a reader
// waiting on another process's refresh. How fresh is fresh, when a refresh is
// due and how stale is too stale are the policy's (shared/freshness-policy.ts),
// which the lease claim asks too; nothing else restates them.
// The clock is a parameter, so the rule is tested with no server and no sleep.
import type { FailureCode } from '../../shared/failures.js';
import { refreshDueAtAgeMs, servableStale, type EntryFreshness, type FreshnessPolicy } from '../../shared/freshness-policy.js';

/** What a memory view or a stored row says of an entry, as far as the rule cares. */
export interface Known extends EntryFreshness {
  /** No refresh before this time (epoch ms): the backoff after a failure. */
  nextRefreshAt: number;
}

/** Where what is known came from: memory may be behind the SQL copy, the copy is the truth. */
export type Source = 'memory' | 'sql';

export type Decision =
  /** A fresh record: answer it; past the refresh-ahead point, refresh it behind the answer. */
  | { action: 'serve'; refreshAhead: boolean }
  /** The upstream said 404 recently: answer 404 from the copy. */
  | { action: 'not-found' }
  /** A stale record within its stale window: answer it; refresh behind the answer unless backing off. */
  | { action: 'serve-stale'; refresh: boolean }
  /** Nothing to serve and the upstream failing: answer from the last failure until the backoff ends. */
  | { action: 'fail'; code: FailureCode; retryAt: number }
  /** Memory cannot decide (not fresh there): read the SQL copy, then decide again. */
  | { action: 'read-sql' }
  /** Nothing servable: a refresh must run, and the reader waits for it. */
  | { action: 'wait' };

/** Milliseconds since the entry was fetched; Infinity when nothing was. */
function ageMs(known: Known | undefined, now: number): number {
  return known && known.state !== 'none' && known.fetchedAt !== null ? now - known.fetchedAt : Infinity;
}

// The decisions that carry nothing, made once: a hit allocates nothing.
const SERVE: Decision = { action: 'serve', refreshAhead: false };
const SERVE_AHEAD: Decision = { action: 'serve', refreshAhead: true };
const NOT_FOUND: Decision = { action: 'not-found' };
const READ_SQL: Decision = { action: 'read-sql' };
const WAIT: Decision = { action: 'wait' };

export function decide(known: Known | undefined, source: Source, now: number, policy: FreshnessPolicy): Decision {
  const age = ageMs(known, now);
  const fresh = age < refreshDueAtAgeMs(known, policy, false);
  if (known?.state === 'ok' && fresh) {
    // Ahead of its TTL, as any refresh, only once the backoff ends.
    return age >= refreshDueAtAgeMs(known, policy, true) && known.nextRefreshAt <= now ? SERVE_AHEAD : SERVE;
  }
  // Anything memory holds that is not a fresh record is checked against the
  // SQL copy first: another process may have refreshed it.
  if (source === 'memory') return READ_SQL;
  if (known?.state === 'not-found' && fresh) return NOT_FOUND;
  if (known?.state === 'ok' && servableStale(known, age, policy)) {
    return { action: 'serve-stale', refresh: known.nextRefreshAt <= now };
  }
  // Nothing to serve: ask the upstream again only once the backoff ends.
  if (known?.errorCode && known.nextRefreshAt > now) {
    return { action: 'fail', code: known.errorCode, retryAt: known.nextRefreshAt };
  }
  return WAIT;
}
