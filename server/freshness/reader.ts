// The read path: the memory tier first, then the SQL copy, then — when the
// decision says nothing can be served — a refresh to wait for. It turns each
// decision (decision.ts) into an outcome (outcome.ts): an answer with how it
// was served, or a refusal with its reason. A hit from memory takes no SQL and
// no await.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EntryRow } from '../../db/entries.js';
import type { EntryReads } from '../../db/entry-reads.js';
import { isDatabaseUnavailable } from '../../db/errors.js';
import { failureKind, type FailureCode } from '../../shared/failures.js';
import { ttlOf, type FreshnessPolicy } from '../../shared/freshness-policy.js';
import { decide, type Decision, type Known } from './decision.js';
import type { Drain } from './drain.js';
import { viewOfRow, type EntryView, type MemoryTier } from './memory-tier.js';
import type { Answer, CacheOutcome, Outcome, Refusal } from './outcome.js';
import type { Refresher } from './refresher.js';

export interface ReadCounters {
  hit: number;
  stale: number;
  miss: number;
  collapsed: number;
}

export interface Reader {
  /** The first step, synchronous: the answer if the memory tier holds the entry fresh. */
  peek(id: string): Answer | undefined;
  /** Each entry through the decision; order kept. */
  read(ids: readonly string[]): Promise<Outcome[]>;
}

export interface ReaderDeps {
  memory: MemoryTier;
  /** Rows by id, prepared and batched (db/entry-reads.ts). */
  rows: EntryReads;
  /** The source whose entries these are (shared/sources.ts). */
  source: string;
  refresher: Refresher;
  /** Is the upstream's breaker open (nothing is sent to it)? */
  upstreamHeld: () => boolean;
  policy: FreshnessPolicy;
  counters: ReadCounters;
  draining: Drain;
  /** How long a reader waits for another process's refresh. */
  waitMs: number;
  /** Told when a read finds the database away (it is then answered from memory, or 503). */
  onDatabaseUnavailable?: (err: unknown) => void;
  now: () => number;
}

/** How a wait on another process's refresh ends: the row it left (if any), or no answer. */
type OtherRefreshEnd = { row: EntryRow | undefined } | 'timeout' | 'drained';

// How often a reader waiting on another process's refresh reads the row again.
const POLL_MS = 25;

// The outcomes that carry nothing of their entry, made once.
const MISS: CacheOutcome = { kind: 'miss' };
const COLLAPSED_MISS: CacheOutcome = { kind: 'miss', collapsed: true };
const HELD: CacheOutcome = { kind: 'miss', detail: 'upstream-unhealthy' };
const HELD_COLLAPSED: CacheOutcome = { kind: 'miss', collapsed: true, detail: 'upstream-unhealthy' };
const SHUTTING_DOWN: Refusal = { refused: 'shutting-down' };
const WAITED_TOO_LONG: Refusal = { refused: 'waited-too-long', cache: MISS };
const OVERLOADED: Refusal = { refused: 'overloaded', cache: { kind: 'miss', detail: 'overloaded' } };

function notFound(cache: CacheOutcome): Refusal {
  return { refused: 'not-found', cache };
}

/** A failed refresh, to try again at the end of its backoff. */
function failure(code: FailureCode, nextRefreshAt: number, at: number, cache: CacheOutcome): Refusal {
  return { refused: 'failed', code, retryAfterSeconds: Math.max(1, Math.ceil((nextRefreshAt - at) / 1000)), cache };
}

/** What a stored row says to the decision: its view, or just its bookkeeping when it has no record. */
function knownOfRow(row: EntryRow): { view: EntryView | undefined; known: Known } {
  const view = viewOfRow(row);
  return {
    view,
    known: view ?? {
      state: 'none',
      fetchedAt: null,
      errorCode: row.errorCode,
      nextRefreshAt: row.nextRefreshAt,
      ttlMs: null,
      staleWhileRevalidateMs: null,
      staleIfErrorMs: null,
    },
  };
}

/** Whole seconds since the record was fetched (the Age header). */
function ageOf(view: EntryView, at: number): number {
  return Math.max(0, Math.floor((at - view.fetchedAt) / 1000));
}

/** An answer as it was served: `cache` says how. */
function answer(view: EntryView, at: number, cache: CacheOutcome): Answer {
  return { view: view as Answer['view'], cache, age: ageOf(view, at) };
}

export function createReader(deps: ReaderDeps): Reader {
  const { memory, rows: entryReads, refresher, policy, counters, draining, now } = deps;
  // One poller per entry refreshed by another process, shared by its readers.
  const remoteWaits = new Map<string, Promise<OtherRefreshEnd>>();

  /** What is left of the entry's TTL in whole seconds, consistent with Age. */
  function ttlLeft(view: EntryView, at: number): number {
    const ttlMs = ttlOf(view, policy);
    const ttlSeconds = Math.floor(ttlMs / 1000);
    const age = ageOf(view, at);
    // Below zero once stale, even within the first second past the TTL.
    return at - view.fetchedAt >= ttlMs ? Math.min(-1, ttlSeconds - age) : ttlSeconds - age;
  }

  function hit(view: EntryView, at: number): Answer {
    counters.hit++;
    return answer(view, at, { kind: 'hit', ttlSeconds: ttlLeft(view, at) });
  }

  /** The hot path: a fresh memory row is answered with no SQL and no await. */
  function peek(id: string): Answer | undefined {
    const at = now();
    const view = memory.get(id);
    return view && fresh(view, at) ? hit(view, at) : undefined;
  }

  /** Is this memory view fresh? Past the refresh-ahead point, its refresh starts behind the answer. */
  function fresh(view: EntryView, at: number): boolean {
    const decision = decide(view, 'memory', at, policy);
    if (decision.action !== 'serve') return false;
    if (decision.refreshAhead) refresher.ahead(view.id, view.fetchedAt);
    return true;
  }

  async function read(ids: readonly string[]): Promise<Outcome[]> {
    const at = now();
    const outcomes: Outcome[] = Array.from({ length: ids.length });
    const needSql: number[] = [];
    ids.forEach((id, i) => {
      const view = memory.get(id);
      if (view && fresh(view, at)) outcomes[i] = hit(view, at);
      else needSql.push(i);
    });
    if (needSql.length === 0) return outcomes;

    let rows: Array<EntryRow | undefined>;
    // A store heard from elsewhere while this read runs makes its rows too old to keep.
    const mark = memory.mark();
    try {
      // One read each; those asked for in the same turn share a statement.
      rows = await Promise.all(needSql.map((i) => entryReads.one(deps.source, ids[i] as string)));
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      deps.onDatabaseUnavailable?.(err);
      for (const i of needSql) outcomes[i] = fromMemoryAlone(ids[i] as string, at);
      return outcomes;
    }
    const waits: Array<Promise<void>> = [];
    needSql.forEach((i, k) => {
      const id = ids[i] as string;
      const row = rows[k];
      const { view, known } = row ? knownOfRow(row) : { view: undefined, known: undefined };
      if (view) memory.offer(view, mark);
      const settled = settle(decide(known, 'sql', at, policy), view, at, 'read');
      if (settled !== 'wait') {
        outcomes[i] = settled;
        return;
      }
      counters.miss++;
      waits.push(
        waitForRefresh(id, !row, at).then(
          (outcome) => void (outcomes[i] = outcome),
          (err: unknown) => {
            if (!isDatabaseUnavailable(err)) throw err;
            deps.onDatabaseUnavailable?.(err);
            outcomes[i] = fromMemoryAlone(id, at);
          },
        ),
      );
    });
    await Promise.all(waits);
    return outcomes;
  }

  /**
   * A decision made into an answer, however the reader got to it: reading
   * the copy ('read'), after another process's refresh ('collapsed'), or from
   * memory alone while the database is away ('unavailable'). 'wait': a refresh
   * must run first.
   */
  function settle(decision: Decision, view: EntryView | undefined, at: number, how: 'read' | 'collapsed' | 'unavailable'): Outcome | 'wait' {
    switch (decision.action) {
      case 'serve':
      case 'serve-stale':
        if (how === 'collapsed') {
          counters.collapsed++;
          return answer(view as EntryView, at, COLLAPSED_MISS);
        }
        if (decision.action === 'serve') {
          if (decision.refreshAhead && how === 'read') refresher.ahead((view as EntryView).id, (view as EntryView).fetchedAt);
          return hit(view as EntryView, at);
        }
        if (how === 'unavailable') {
          // No refresh could be stored meanwhile: none is started.
          counters.stale++;
          return answer(view as EntryView, at, { kind: 'stale', ttlSeconds: ttlLeft(view as EntryView, at), detail: 'database-unavailable' });
        }
        return serveStale(view as EntryView, at, decision.refresh);
      case 'not-found':
        return notFound(how === 'collapsed' ? COLLAPSED_MISS : { kind: 'hit' });
      case 'fail':
        if (how === 'collapsed') return failure(decision.code, decision.retryAt, at, COLLAPSED_MISS);
        counters.miss++;
        return failure(decision.code, decision.retryAt, at, { kind: 'miss', detail: 'backoff' });
      default:
        if (how !== 'unavailable') return 'wait';
        counters.miss++;
        return { refused: 'database-unavailable', cache: { kind: 'miss', detail: 'database-unavailable' } };
    }
  }

  /** The database is away: what memory holds is served as the copy would be; the rest is answered 503. */
  function fromMemoryAlone(id: string, at: number): Outcome {
    const view = memory.get(id);
    return settle(decide(view, 'sql', at, policy), view, at, 'unavailable') as Outcome;
  }

  function serveStale(view: EntryView, at: number, refresh: boolean): Answer {
    counters.stale++;
    const cache: CacheOutcome = { kind: 'stale', ttlSeconds: ttlLeft(view, at) };
    if (deps.upstreamHeld()) cache.detail = 'upstream-unhealthy';
    else if (view.errorCount > 0) cache.detail = view.errorCode !== null && failureKind(view.errorCode) === 'bad-answer' ? 'invalid-upstream' : 'backoff';
    if (refresh) refresher.inBackground(view.id);
    return answer(view, at, cache);
  }

  /** `retried`: this reader already waited on another process that left nothing to serve. */
  async function waitForRefresh(id: string, create: boolean, at: number, retried = false): Promise<Outcome> {
    const joined = refresher.running(id);
    if (refresher.stopped && !joined) return SHUTTING_DOWN;
    // The pool answers every failure of its own as a result; what is thrown
    // here (the database, say) is a server error, answered and told as one.
    const outcome = await draining.wait(refresher.run(id, { create, force: false, deferred: false }));
    // The refresh goes on (and is stored); this reader is answered before the server stops.
    if (outcome === 'drained') return SHUTTING_DOWN;
    // Counted there when the answer comes from another process's refresh.
    if (outcome.kind === 'elsewhere') return answerFromOtherRefresher(id, retried);
    if (joined) counters.collapsed++;
    if (outcome.kind === 'overloaded') return OVERLOADED;
    // The upstream is held off: answered at once, to come back when the next probe may go.
    if (outcome.kind === 'held') return failure('unavailable', outcome.retryAt, now(), joined ? HELD_COLLAPSED : HELD);
    const { result, view } = outcome;
    if (result.kind === 'ok' && view) {
      // RFC 9211: 'stored' only when it was (not on the upstream's no-store).
      if (result.freshness.noStore) return { ...answer(view, at, joined ? COLLAPSED_MISS : MISS), noStore: true };
      return answer(view, at, joined ? COLLAPSED_MISS : { kind: 'miss', stored: true });
    }
    // Revalidated: the upstream said the stored record has not changed.
    if (result.kind === 'not-modified' && view) return answer(view, at, joined ? { kind: 'stale', collapsed: true } : { kind: 'stale', revalidated: true });
    if (result.kind === 'not-found') return notFound(joined ? COLLAPSED_MISS : MISS);
    const code: FailureCode = result.kind === 'invalid' ? 'invalid' : result.kind === 'failed' ? result.code : 'worker-error';
    return failure(code, outcome.nextRefreshAt, now(), joined ? COLLAPSED_MISS : MISS);
  }

  /**
   * Another process is refreshing this entry: wait (bounded) for its lease to
   * end, then decide on the row it left. All readers of the entry in this
   * process share one waiter, so a hot miss costs one query per poll, not one
   * per reader. If it left nothing to serve (it gave its lease back, or died),
   * this reader refreshes the entry itself, once.
   */
  async function answerFromOtherRefresher(id: string, retried: boolean): Promise<Outcome> {
    let waiting = remoteWaits.get(id);
    if (!waiting) {
      waiting = rowAfterOtherRefresh(id).finally(() => remoteWaits.delete(id));
      remoteWaits.set(id, waiting);
    }
    const end = await waiting;
    if (end === 'drained') return SHUTTING_DOWN;
    if (end === 'timeout') return WAITED_TOO_LONG;
    const at = now();
    const { view, known } = end.row ? knownOfRow(end.row) : { view: undefined, known: undefined };
    const settled = settle(decide(known, 'sql', at, policy), view, at, 'collapsed');
    if (settled !== 'wait') return settled;
    if (!retried) return waitForRefresh(id, !end.row, at, true);
    return WAITED_TOO_LONG;
  }

  /** Polls the row until no live lease holds it (or it is gone). */
  async function rowAfterOtherRefresh(id: string): Promise<OtherRefreshEnd> {
    const deadline = performance.now() + deps.waitMs;
    for (;;) {
      const mark = memory.mark();
      const row = await entryReads.one(deps.source, id);
      if (!row || row.leaseOwner === null || row.leaseUntil < now()) {
        const view = row && viewOfRow(row);
        if (view) memory.offer(view, mark);
        return { row };
      }
      if (performance.now() >= deadline) return 'timeout';
      if ((await draining.wait(sleep(POLL_MS))) === 'drained') return 'drained';
    }
  }

  return { peek, read };
}
