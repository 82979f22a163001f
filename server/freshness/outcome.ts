// What the freshness check answers, as data: an entry served, with how it was
// served (RFC 9211's vocabulary: a hit, forwarded because stale or missing,
// collapsed into another reader's refresh, stored, its TTL left, a detail), or
// a refusal with its reason and when to try again. server/http/ turns these
// into headers, bodies and problems; nothing in freshness/ speaks HTTP.
import type { FailureCode } from '../../shared/failures.js';
import type { EntryView } from './memory-tier.js';

/** Why an answer is what it is, beyond hit, stale or miss. */
export type CacheDetail = 'backoff' | 'invalid-upstream' | 'database-unavailable' | 'overloaded' | 'upstream-unhealthy';

export interface CacheOutcome {
  /** hit: answered from the copy, fresh; stale: answered stale, the upstream asked behind it; miss: the upstream was asked first. */
  kind: 'hit' | 'stale' | 'miss';
  /** The upstream answered a conditional refresh 304. */
  revalidated?: boolean;
  /** Answered from a refresh another reader (or another process) started. */
  collapsed?: boolean;
  /** The upstream's answer was stored (not on its no-store). */
  stored?: boolean;
  /** What is left of the entry's TTL, in whole seconds (below zero once stale). */
  ttlSeconds?: number;
  detail?: CacheDetail;
}

/** A served entry. */
export interface Answer {
  view: EntryView & { state: 'ok'; body: Buffer; etag: string };
  cache: CacheOutcome;
  /** Seconds since the record was fetched (the Age header). */
  age: number;
  /** The upstream said no-store: answered to the readers of its fetch, kept nowhere, by no one. */
  noStore?: true;
}

/** Nothing to serve, and why. */
export type Refusal =
  /** The upstream says there is no such entry. */
  | { refused: 'not-found'; cache: CacheOutcome }
  /** The upstream failed (or its data did), with nothing stored to serve instead. */
  | { refused: 'failed'; code: FailureCode; retryAfterSeconds: number; cache: CacheOutcome }
  /** The updater pool is full (UPDATER_MAX_QUEUE). */
  | { refused: 'overloaded'; cache: CacheOutcome | undefined }
  /** Another process's refresh did not end within UPDATER_TASK_TIMEOUT_MS. */
  | { refused: 'waited-too-long'; cache: CacheOutcome }
  /** The database is away and memory does not hold the entry. */
  | { refused: 'database-unavailable'; cache: CacheOutcome }
  /** The server is stopping. */
  | { refused: 'shutting-down' };

export type Outcome = Answer | Refusal;

export function isRefusal(outcome: Outcome): outcome is Refusal {
  return 'refused' in outcome;
}
