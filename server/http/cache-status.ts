// How an entry was served, as RFC 9211's Cache-Status header: the one place
// the freshness check's outcome (freshness/outcome.ts) becomes text. The
// access log takes the outcome itself, not this header.
import type { CacheOutcome } from '../freshness/freshness.js';

/** `freshen; hit; ttl=42`, `freshen; fwd=stale; ttl=-3; detail=backoff`, `freshen; fwd=miss; stored`… */
export function cacheStatus(outcome: CacheOutcome): string {
  let text = outcome.kind === 'hit' ? 'freshen; hit' : outcome.kind === 'stale' ? 'freshen; fwd=stale' : 'freshen; fwd=miss';
  if (outcome.revalidated) text += '; fwd-status=304';
  if (outcome.collapsed) text += '; collapsed';
  if (outcome.stored) text += '; stored';
  if (outcome.ttlSeconds !== undefined) text += `; ttl=${outcome.ttlSeconds}`;
  if (outcome.detail !== undefined) text += `; detail=${outcome.detail}`;
  return text;
}
