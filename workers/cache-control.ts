// The upstream's own word on how long a record stays fresh, read as a shared
// HTTP cache reads it (RFC 9111, RFC 5861): s-maxage, else max-age, else
// Expires minus Date; minus the upstream's Age; within the operator's bounds.
// The header is parsed by cache-control-parser.
import cacheControlParser from 'cache-control-parser';
import type { UpstreamFreshness } from '../shared/upstream.js';
import type { CacheControlPolicy } from './protocol.js';

/** The answer headers that carry freshness (null when absent). */
export interface FreshnessHeaders {
  cacheControl: string | null;
  expires: string | null;
  date: string | null;
  age: string | null;
}

// A CommonJS module: Node gives ESM its exports as the default only.
const { parse } = cacheControlParser;

/** A directive's seconds as milliseconds; null when absent. */
function seconds(n: number | undefined): number | null {
  return n === undefined || n < 0 ? null : n * 1000;
}

/**
 * The longest stale window kept: a year. The upstream's number may be any
 * size (stale-if-error=99999999999999999), and past Postgres's bigint every
 * store of its entry would fail.
 */
export const MAX_STALE_WINDOW_MS = 365 * 86_400_000;

function windowMs(n: number | undefined): number | null {
  const ms = seconds(n);
  return ms === null ? null : Math.min(ms, MAX_STALE_WINDOW_MS);
}

const SAID_NOTHING: UpstreamFreshness = { ttlMs: null, staleWhileRevalidateMs: null, staleIfErrorMs: null, noStore: false };

export function upstreamFreshness(headers: FreshnessHeaders, policy: CacheControlPolicy, now = Date.now()): UpstreamFreshness {
  if (!policy.obey) return SAID_NOTHING;
  const directives = headers.cacheControl === null ? {} : parse(headers.cacheControl);
  if (directives['no-store']) return { ...SAID_NOTHING, noStore: true };
  // no-cache: usable only once revalidated, so stale at once (the minimum TTL).
  let lifetimeMs = directives['no-cache'] ? 0 : seconds(directives['s-maxage'] ?? directives['max-age']);
  if (lifetimeMs === null && headers.expires !== null) {
    // An Expires that is not a date means "already expired" (RFC 9111 §5.3).
    const expires = Date.parse(headers.expires);
    const date = headers.date === null ? Number.NaN : Date.parse(headers.date);
    lifetimeMs = Number.isNaN(expires) ? 0 : expires - (Number.isNaN(date) ? now : date);
  }
  const ageMs = headers.age !== null && /^\s*\d+\s*$/.test(headers.age) ? Number(headers.age) * 1000 : 0;
  return {
    ttlMs: lifetimeMs === null ? null : Math.min(policy.maxTtlMs, Math.max(policy.minTtlMs, lifetimeMs - ageMs)),
    staleWhileRevalidateMs: windowMs(directives['stale-while-revalidate']),
    staleIfErrorMs: windowMs(directives['stale-if-error']),
    noStore: false,
  };
}
