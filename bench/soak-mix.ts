// The soak's mix of requests: what each kind asks for, on how many of the 64
// connections, at what rate, and which statuses the HTTP contract allows it.
// Shared by the load process (bench/soak-load.ts) and the report (bench/soak.ts).

export type KindName = 'hit' | 'stale' | 'miss' | 'list' | 'related' | 'invalid';

export interface Kind {
  name: KindName;
  what: string;
  connections: number;
  /** Requests per second over the kind's connections; unset: as fast as they go. */
  rate?: number;
  /** Statuses the contract allows for this kind; any other is a failure. */
  allowed: number[];
  /** Allowed, but a request not served (a miss shed when the pool is full). */
  shed?: number[];
}

// The rates are set so the refreshes they cause (~20/s for the hot entries
// turning stale, ~30/s stale reads, 20/s misses, ~4/s new invalid ids and
// their retries) stay within what the pool carries on 2 shared cores: past it,
// the queue stays full, hot entries stay stale and the soak measures only the
// overload (seen with 3× these rates: queue at 250 all run, a third of the
// hits stale, hit p99 0.5 s).

/** Hot entries, stored before the load starts; lists and relations read only these. */
export const HOT_IDS = 100;
/** Entries read so seldom (each every ~17 s at 30/s) that a read mostly finds them past ENTRY_TTL_SECONDS. */
export const STALE_IDS = 500;
export const TTL_SECONDS = 5;
/** New ids that fail the schema per second (each one notice to the content team), read again while recent. */
export const NEW_INVALID_PER_SECOND = 4;
const RECENT_INVALID = 40;

export const KINDS: Kind[] = [
  { name: 'hit', what: 'GET /entries/hot-N', connections: 24, allowed: [200] },
  { name: 'stale', what: 'GET /entries/stale-N, mostly past its TTL', connections: 8, rate: 30, allowed: [200] },
  { name: 'miss', what: 'GET /entries/miss-N, never read before', connections: 12, rate: 20, allowed: [200, 503, 504], shed: [503, 504] },
  { name: 'list', what: 'GET /entries?ids= (10 hot ids)', connections: 8, allowed: [200] },
  { name: 'related', what: 'GET /entries/hot-N/related', connections: 6, allowed: [200] },
  // Never valid, so never a good row to serve: 502, or 503/504 when the pool is full.
  { name: 'invalid', what: 'GET /entries/bad-N, fails the schema', connections: 6, rate: 20, allowed: [502, 503, 504], shed: [503, 504] },
];

const below = (n: number) => Math.floor(Math.random() * n);

/** The path of the next request of a kind; `elapsedMs` since the load began. */
export function pathFor(kind: KindName, elapsedMs: number): string {
  switch (kind) {
    case 'hit':
      return `/entries/hot-${below(HOT_IDS)}`;
    case 'stale':
      return `/entries/stale-${below(STALE_IDS)}`;
    case 'miss':
      // A space of 10^12 ids: a repeat within a run is vanishingly rare.
      return `/entries/miss-${below(1e12)}`;
    case 'list': {
      const ids = new Set<string>();
      while (ids.size < 10) ids.add(`hot-${below(HOT_IDS)}`);
      return `/entries?ids=${[...ids].join(',')}`;
    }
    case 'related':
      return `/entries/hot-${below(HOT_IDS)}/related`;
    case 'invalid': {
      // A window of the most recent ids, moving on NEW_INVALID_PER_SECOND: mail keeps flowing all run long.
      const newest = Math.floor((elapsedMs / 1000) * NEW_INVALID_PER_SECOND) + RECENT_INVALID;
      return `/entries/bad-${newest - below(RECENT_INVALID)}`;
    }
  }
}

export interface KindResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  /** Connection errors and timeouts (timeouts counted in both). */
  errors: number;
  timeouts: number;
  /** Items of a list or related answer that came back as errors (every item is a stored hot entry). */
  itemErrors: number;
  /** Single reads by their Cache-Status (hit, fwd=stale, fwd=miss, collapsed). */
  cacheStatus: Record<string, number>;
  /** Distinct ids read (invalid kind only: the notices to expect). */
  distinctIds?: number;
}

export interface LoadProgress {
  seconds: number;
  kinds: Record<string, { requests: number; failed: number }>;
}

/** Requests of a kind the contract does not allow: other statuses, connection errors, timeouts, failed items. */
export function failedOf(kind: Kind, r: KindResult): number {
  let failed = r.errors + r.itemErrors;
  for (const [status, n] of Object.entries(r.statuses)) if (!kind.allowed.includes(Number(status))) failed += n;
  return failed;
}

export function shedOf(kind: Kind, r: KindResult): number {
  return Object.entries(r.statuses).reduce((sum, [status, n]) => sum + (kind.shed?.includes(Number(status)) ? n : 0), 0);
}
