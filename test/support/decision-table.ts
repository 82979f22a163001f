// The freshness decision as a table of rows: what memory or the SQL copy
// holds of an entry, at a given time, under a given policy, and what a read
// does. The decision test checks decide() against it; the agreement test
// checks the lease claim's SQL against decide() on each row.
import type { Decision, Known, Source } from '../../server/freshness/decision.js';
import type { FreshnessPolicy } from '../../shared/freshness-policy.js';

export const policy: FreshnessPolicy = { ttlMs: 300_000, maxStaleMs: 86_400_000, notFoundTtlMs: 60_000, refreshAhead: 0 };
const own = { ttlMs: null, staleWhileRevalidateMs: null, staleIfErrorMs: null };
export const now = Date.UTC(2030, 0, 1);
const ago = (ms: number) => now - ms;

export const record = (fetchedAgoMs: number, extra: Partial<Known> = {}): Known => ({
  state: 'ok',
  fetchedAt: ago(fetchedAgoMs),
  errorCode: null,
  nextRefreshAt: 0,
  ...own,
  ...extra,
});
export const gone = (fetchedAgoMs: number): Known => ({ state: 'not-found', fetchedAt: ago(fetchedAgoMs), errorCode: null, nextRefreshAt: 0, ...own });
export const noRecord = (extra: Partial<Known> = {}): Known => ({ state: 'none', fetchedAt: null, errorCode: null, nextRefreshAt: 0, ...own, ...extra });
export const SERVE: Decision = { action: 'serve', refreshAhead: false };

export const rows: Array<[string, Known | undefined, Source, Decision]> = [
  // From memory: only a fresh record is answered; anything else asks the SQL copy.
  ['a fresh record in memory is served', record(1000), 'memory', SERVE],
  ['a record one millisecond short of its TTL is still fresh', record(299_999), 'memory', SERVE],
  ['a record exactly at its TTL is checked against SQL', record(300_000), 'memory', { action: 'read-sql' }],
  ['a stale record in memory is checked against SQL (another process may have refreshed it)', record(400_000), 'memory', { action: 'read-sql' }],
  ['a fresh 404 in memory is checked against SQL', gone(1000), 'memory', { action: 'read-sql' }],
  ['nothing in memory is looked up in SQL', undefined, 'memory', { action: 'read-sql' }],
  // From the SQL copy: the whole rule.
  ['a fresh record in SQL is served', record(1000), 'sql', SERVE],
  ['a fresh 404 in SQL is answered 404 from the copy', gone(1000), 'sql', { action: 'not-found' }],
  ['a 404 is answered from the copy for ENTRY_NOT_FOUND_TTL, not ENTRY_TTL', gone(59_999), 'sql', { action: 'not-found' }],
  ['a 404 older than ENTRY_NOT_FOUND_TTL is asked again, with the reader waiting', gone(60_000), 'sql', { action: 'wait' }],
  // The upstream's own freshness (Cache-Control, Expires) decides for its entry.
  ['a record whose own TTL is shorter than ENTRY_TTL is stale at its own', record(10_000, { ttlMs: 10_000 }), 'sql', { action: 'serve-stale', refresh: true }],
  ['a record whose own TTL is longer than ENTRY_TTL is fresh past ENTRY_TTL', record(600_000, { ttlMs: 900_000 }), 'memory', SERVE],
  ['stale-while-revalidate bounds how long a record is served stale while it is refreshed', record(10_000 + 30_000, { ttlMs: 10_000, staleWhileRevalidateMs: 30_000 }), 'sql', { action: 'serve-stale', refresh: true }],
  ['past stale-while-revalidate a reader waits', record(10_000 + 30_001, { ttlMs: 10_000, staleWhileRevalidateMs: 30_000 }), 'sql', { action: 'wait' }],
  ['stale-if-error bounds how long a record is served while its refreshes fail', record(10_000 + 600_000, { ttlMs: 10_000, staleWhileRevalidateMs: 30_000, staleIfErrorMs: 600_000, errorCode: 'unavailable', nextRefreshAt: now + 1 }), 'sql', { action: 'serve-stale', refresh: false }],
  ['past stale-if-error the failure is answered', record(10_000 + 600_001, { ttlMs: 10_000, staleIfErrorMs: 600_000, errorCode: 'unavailable', nextRefreshAt: now + 1 }), 'sql', { action: 'fail', code: 'unavailable', retryAt: now + 1 }],
  ['a stale record is served and refreshed behind the answer', record(300_000), 'sql', { action: 'serve-stale', refresh: true }],
  ['a record ENTRY_MAX_STALE past its TTL is still served stale', record(300_000 + 86_400_000), 'sql', { action: 'serve-stale', refresh: true }],
  ['a record whose own TTL is the longest allowed keeps ENTRY_MAX_STALE past it', record(86_400_000 + 1000, { ttlMs: 86_400_000 }), 'sql', { action: 'serve-stale', refresh: true }],
  ['a stale record whose refresh backs off is served with no refresh', record(400_000, { errorCode: 'unavailable', nextRefreshAt: now + 1 }), 'sql', { action: 'serve-stale', refresh: false }],
  ['a stale record whose backoff ends now is refreshed', record(400_000, { errorCode: 'unavailable', nextRefreshAt: now }), 'sql', { action: 'serve-stale', refresh: true }],
  ['a fresh record is served even during a backoff', record(1000, { errorCode: 'timeout', nextRefreshAt: now + 60_000 }), 'sql', SERVE],
  ['a record more than ENTRY_MAX_STALE past its TTL is a miss: the reader waits', record(300_000 + 86_400_001), 'sql', { action: 'wait' }],
  ['a record more than ENTRY_MAX_STALE past its TTL during a backoff answers the remembered failure', record(300_000 + 86_400_001, { errorCode: 'invalid', nextRefreshAt: now + 5000 }), 'sql', { action: 'fail', code: 'invalid', retryAt: now + 5000 }],
  ['an entry never stored is a miss: the reader waits', undefined, 'sql', { action: 'wait' }],
  ['a row with no record and a failure in backoff answers the failure', noRecord({ errorCode: 'unreachable', nextRefreshAt: now + 2000 }), 'sql', { action: 'fail', code: 'unreachable', retryAt: now + 2000 }],
  ['a row with no record whose backoff has ended is asked again', noRecord({ errorCode: 'unreachable', nextRefreshAt: now }), 'sql', { action: 'wait' }],
  ['a row with no record and no failure (a refresh under way) waits', noRecord(), 'sql', { action: 'wait' }],
];

