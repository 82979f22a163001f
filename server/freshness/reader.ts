// The read path: the memory tier first, then the SQL copy, then — when the
// decision says nothing can be served — a refresh to wait for. It turns each
// decision (decision.ts) into an answer with its RFC 9211 Cache-Status, or the
// error to answer with. A hit from memory takes no SQL and no await.
import { setTimeout as sleep } from 'node:timers/promises';
import * as entries from '../../db/entries.js';
import type { EntryReads } from '../../db/entry-reads.js';
import { isDatabaseUnavailable } from '../../db/errors.js';
import { answeredBadly, DatabaseUnavailable, errorForFailure, FreshenError, NotFound, Overloaded, ShuttingDown, UpstreamTimeout } from '../http/errors.js';
import { decide, ttlOf, type Decision, type Known, type Policy } from './decision.js';
import type { Drain } from './drain.js';
import { viewOfRow, type EntryView, type MemoryTier } from './memory-tier.js';
import type { Refresher } from './refresher.js';

/** A served entry: what to send and the RFC 9211 Cache-Status to send with it. */
export interface Answer {
  view: EntryView & { state: 'ok'; body: Buffer; etag: string };
  cacheStatus: string;
  /** Seconds since the record was fetched (the Age header). */
  age: number;
}

export type Outcome = Answer | FreshenError;

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
  refresher: Refresher;
  policy: Policy;
  counters: ReadCounters;
  draining: Drain;
  /** How long a reader waits for another process's refresh. */
  waitMs: number;
  /** Told when a read finds the database away (it is then answered from memory, or 503). */
  onDatabaseUnavailable?: (err: unknown) => void;
  now: () => number;
}

/** How a wait on another process's refresh ends: the row it left (if any), or no answer. */
type OtherRefreshEnd = { row: entries.EntryRow | undefined } | 'timeout' | 'drained';

// How often a reader waiting on another process's refresh reads the row again.
const POLL_MS = 25;

function notFound(status: string): NotFound {
  return new NotFound('There is no such entry.', { 'Cache-Status': `freshen; ${status}` });
}

/** The error for a failed refresh, with Retry-After at the end of the backoff. */
function failure(code: string, nextRefreshAt: number, at: number, cacheStatus: string): FreshenError {
  const retryAfter = Math.max(1, Math.ceil((nextRefreshAt - at) / 1000));
  return errorForFailure(code, retryAfter, { 'Cache-Status': cacheStatus });
}

/** What a stored row says to the decision: its view, or just its bookkeeping when it has no record. */
function knownOfRow(row: entries.EntryRow): { view: EntryView | undefined; known: Known } {
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

export function createReader(deps: ReaderDeps): Reader {
  const { memory, rows: entryReads, refresher, policy, counters, draining, now } = deps;
  // One poller per entry refreshed by another process, shared by its readers.
  const remoteWaits = new Map<string, Promise<OtherRefreshEnd>>();

  /** An answer with its Cache-Status; `ttl=` is what is left of the entry's TTL, consistent with Age. */
  function answer(view: EntryView, at: number, status: string, withTtl = false, detail = ''): Answer {
    const age = Math.max(0, Math.floor((at - view.fetchedAt) / 1000));
    const ttlMs = ttlOf(view, policy);
    const ttlSeconds = Math.floor(ttlMs / 1000);
    // Below zero once stale, even within the first second past the TTL.
    const left = at - view.fetchedAt >= ttlMs ? Math.min(-1, ttlSeconds - age) : ttlSeconds - age;
    const ttl = withTtl ? `; ttl=${left}` : '';
    return { view: view as Answer['view'], cacheStatus: `freshen; ${status}${ttl}${detail}`, age };
  }

  function hit(view: EntryView, at: number): Answer {
    counters.hit++;
    return answer(view, at, 'hit', true);
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

    let rows: Array<entries.EntryRow | undefined>;
    try {
      // One read each; those asked for in the same turn share a statement.
      rows = await Promise.all(needSql.map((i) => entryReads.one(ids[i] as string)));
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
      if (view) memory.offer(view);
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
          return answer(view as EntryView, at, 'fwd=miss; collapsed');
        }
        if (decision.action === 'serve') {
          if (decision.refreshAhead && how === 'read') refresher.ahead((view as EntryView).id, (view as EntryView).fetchedAt);
          return hit(view as EntryView, at);
        }
        if (how === 'unavailable') {
          // No refresh could be stored meanwhile: none is started.
          counters.stale++;
          return answer(view as EntryView, at, 'fwd=stale', true, '; detail=database-unavailable');
        }
        return serveStale(view as EntryView, at, decision.refresh);
      case 'not-found':
        return notFound(how === 'collapsed' ? 'fwd=miss; collapsed' : 'hit');
      case 'fail':
        if (how === 'collapsed') return failure(decision.code, decision.retryAt, at, 'freshen; fwd=miss; collapsed');
        counters.miss++;
        return failure(decision.code, decision.retryAt, at, 'freshen; fwd=miss; detail=backoff');
      default:
        if (how !== 'unavailable') return 'wait';
        counters.miss++;
        return new DatabaseUnavailable({ 'Cache-Status': 'freshen; fwd=miss; detail=database-unavailable' });
    }
  }

  /** The database is away: what memory holds is served as the copy would be; the rest is answered 503. */
  function fromMemoryAlone(id: string, at: number): Outcome {
    const view = memory.get(id);
    return settle(decide(view, 'sql', at, policy), view, at, 'unavailable') as Outcome;
  }

  function serveStale(view: EntryView, at: number, refresh: boolean): Answer {
    counters.stale++;
    let detail = '';
    if (view.errorCount > 0) detail = view.errorCode !== null && answeredBadly(view.errorCode) ? '; detail=invalid-upstream' : '; detail=backoff';
    if (refresh) refresher.inBackground(view.id);
    return answer(view, at, 'fwd=stale', true, detail);
  }

  /** `retried`: this reader already waited on another process that left nothing to serve. */
  async function waitForRefresh(id: string, create: boolean, at: number, retried = false): Promise<Outcome> {
    const joined = refresher.running(id);
    if (refresher.stopped && !joined) return new ShuttingDown();
    // The pool answers every failure of its own as a result; what is thrown
    // here (the database, say) is a server error, answered and told as one.
    const outcome = await draining.wait(refresher.run(id, { create, force: false, deferred: false }));
    // The refresh goes on (and is stored); this reader is answered before the server stops.
    if (outcome === 'drained') return new ShuttingDown();
    // Counted there when the answer comes from another process's refresh.
    if (outcome.kind === 'elsewhere') return answerFromOtherRefresher(id, retried);
    if (joined) counters.collapsed++;
    if (outcome.kind === 'overloaded') return new Overloaded(1, { 'Cache-Status': 'freshen; fwd=miss; detail=overloaded' });
    const { result, view } = outcome;
    if (result.kind === 'ok' && view) {
      // RFC 9211: 'stored' only when it was (not on the upstream's no-store).
      const how = joined ? 'fwd=miss; collapsed' : result.freshness.noStore ? 'fwd=miss' : 'fwd=miss; stored';
      return answer(view, at, how);
    }
    // Revalidated: the upstream said the stored record has not changed.
    if (result.kind === 'not-modified' && view) return answer(view, at, joined ? 'fwd=stale; collapsed' : 'fwd=stale; fwd-status=304');
    if (result.kind === 'not-found') return notFound(joined ? 'fwd=miss; collapsed' : 'fwd=miss');
    const code = result.kind === 'invalid' ? 'invalid' : result.kind === 'failed' ? result.code : 'worker-error';
    return failure(code, outcome.nextRefreshAt, now(), joined ? 'freshen; fwd=miss; collapsed' : 'freshen; fwd=miss');
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
    if (end === 'drained') return new ShuttingDown();
    if (end === 'timeout') return new UpstreamTimeout(1, { 'Cache-Status': 'freshen; fwd=miss' });
    const at = now();
    const { view, known } = end.row ? knownOfRow(end.row) : { view: undefined, known: undefined };
    const settled = settle(decide(known, 'sql', at, policy), view, at, 'collapsed');
    if (settled !== 'wait') return settled;
    if (!retried) return waitForRefresh(id, !end.row, at, true);
    return new UpstreamTimeout(1, { 'Cache-Status': 'freshen; fwd=miss' });
  }

  /** Polls the row until no live lease holds it (or it is gone). */
  async function rowAfterOtherRefresh(id: string): Promise<OtherRefreshEnd> {
    const deadline = performance.now() + deps.waitMs;
    for (;;) {
      const row = await entryReads.one(id);
      if (!row || row.leaseOwner === null || row.leaseUntil < now()) {
        const view = row && viewOfRow(row);
        if (view) memory.offer(view);
        return { row };
      }
      if (performance.now() >= deadline) return 'timeout';
      if ((await draining.wait(sleep(POLL_MS))) === 'drained') return 'drained';
    }
  }

  return { peek, read };
}
