// The one freshness check. Every read — one entry, a list, entries reached
// through a relation — comes here, and only here is it decided whether to
// serve (fresh), serve and refresh after the answer (stale), or wait for a
// refresh (missing or too old). Refreshes are single-flight: one per entry in
// this process (the in-flight map) and across processes (the SQL lease).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { backoffMs } from '../../db/backoff.js';
import * as entries from '../../db/entries.js';
import type { Db } from '../../db/knex.js';
import type { UpdaterPool } from '../../workers/pool.js';
import { PoolFullError } from '../../workers/pool.js';
import type { RefreshResult } from '../../workers/protocol.js';
import { upstreamUrl } from '../../workers/upstream.js';
import type { Config } from '../config/config.js';
import { maskUrl } from '../config/values.js';
import type { Notifier } from '../notices/notifier.js';
import { answeredBadly, errorForFailure, FreshenError, NotFound, Overloaded, ShuttingDown, UpstreamTimeout } from '../http/errors.js';
import { createDrain } from './drain.js';
import { answerBody, createMemoryTier, viewOfRow, type EntryView } from './memory-tier.js';
import { createPagePublisher } from '../publishing/page-publisher.js';

/** A served entry: what to send and the RFC 9211 Cache-Status to send with it. */
export interface Answer {
  view: EntryView & { state: 'ok'; body: Buffer; etag: string };
  cacheStatus: string;
  /** Seconds since the record was fetched (the Age header). */
  age: number;
}

export type Outcome = Answer | FreshenError;

export interface FreshnessCounters {
  hit: number;
  stale: number;
  miss: number;
  collapsed: number;
  refreshSkipped: number;
  refreshes: Record<RefreshResult['kind'], number>;
}

export interface Freshness {
  /** The check's first step, synchronous: the answer if the memory tier holds the entry fresh. */
  peek(id: string): Answer | undefined;
  /** One entry; throws the FreshenError to answer with. */
  get(id: string): Promise<Answer>;
  /** Many entries, each through the same check; order kept. */
  getMany(ids: readonly string[]): Promise<Outcome[]>;
  /** An operator's refresh: now, ignoring backoff (after the one under way, if any). */
  refreshNow(id: string): Promise<'queued'>;
  counters(): FreshnessCounters;
  /** Entries held in the memory tier. */
  memoryEntries(): number;
  /**
   * The server is stopping: no refresh starts any more (a miss is answered 503),
   * and a reader still waiting for one after `graceMs` is answered 503 too.
   */
  drain(graceMs: number): void;
  /** Stop scheduling refreshes and wait (bounded) for those under way. */
  close(): Promise<void>;
}

export interface FreshnessDeps {
  db: Db;
  /** Where rows are read (a connection of their own on SQLite); db by default. */
  reads?: Db;
  pool: UpdaterPool;
  config: Config;
  /** The URL template the updater fetches. */
  upstreamUrl: string;
  logger: Logger;
  /** Told (and awaited) when upstream data fails the schema. */
  notifier: Notifier;
  /** Told when an entry's page was published. */
  published?: (id: string) => void;
  /** Told each refresh's outcome and duration (pool hand-off to stored). */
  observeRefresh?: (outcome: string, seconds: number) => void;
  now?: () => number;
}

type RefreshOutcome =
  | {
      kind: 'done';
      result: RefreshResult;
      view: EntryView | undefined;
      nextRefreshAt: number;
    }
  | { kind: 'overloaded' }
  // Another process holds the lease, or another refresher just finished: read the row.
  | { kind: 'elsewhere' };

const POLL_MS = 25;

function notFound(status: string): NotFound {
  return new NotFound('There is no such entry.', { 'Cache-Status': `freshen; ${status}` });
}

/** The error for a failed refresh, with Retry-After at the end of the backoff. */
function failure(code: string, nextRefreshAt: number, at: number, cacheStatus: string): FreshenError {
  const retryAfter = Math.max(1, Math.ceil((nextRefreshAt - at) / 1000));
  return errorForFailure(code, retryAfter, { 'Cache-Status': cacheStatus });
}

export function createFreshness(deps: FreshnessDeps): Freshness {
  const { db, pool, config, logger } = deps;
  const reads = deps.reads ?? db;
  const now = deps.now ?? Date.now;
  const { ttlMs, maxStaleMs, backoffMaxMs } = config.entries;
  const leaseMs = config.updater.taskTimeoutMs + 5000;
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const memory = createMemoryTier(config.entries.memoryMaxBytes);
  const inflight = new Map<string, Promise<RefreshOutcome>>();
  const pages = createPagePublisher({ pool, publishDir: config.publish.dir, logger, published: deps.published });
  // Entries an operator asked to refresh again once the refresh under way ends.
  const followUps = new Set<string>();
  let closed = false;
  const draining = createDrain();
  const counters: FreshnessCounters = {
    hit: 0,
    stale: 0,
    miss: 0,
    collapsed: 0,
    refreshSkipped: 0,
    refreshes: { ok: 0, 'not-found': 0, invalid: 0, failed: 0 },
  };

  const ttlSeconds = Math.floor(ttlMs / 1000);

  /** An answer with its Cache-Status; `ttl=` is what is left of the TTL, consistent with Age. */
  function answer(view: EntryView, at: number, status: string, withTtl = false, detail = ''): Answer {
    const age = Math.max(0, Math.floor((at - view.fetchedAt) / 1000));
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
    return view && view.state === 'ok' && at - view.fetchedAt < ttlMs ? hit(view, at) : undefined;
  }

  async function get(id: string): Promise<Answer> {
    const fresh = peek(id);
    if (fresh) return fresh;
    const [outcome] = await check([id], now());
    if (outcome instanceof FreshenError) throw outcome;
    return outcome as Answer;
  }

  async function getMany(ids: readonly string[]): Promise<Outcome[]> {
    return check(ids, now());
  }

  /** The check itself, for ids whose memory row is missing or not fresh. */
  async function check(ids: readonly string[], at: number): Promise<Outcome[]> {
    const outcomes: Outcome[] = Array.from({ length: ids.length });
    const needSql: number[] = [];
    ids.forEach((id, i) => {
      const view = memory.get(id);
      if (view && view.state === 'ok' && at - view.fetchedAt < ttlMs) outcomes[i] = hit(view, at);
      else needSql.push(i);
    });
    if (needSql.length === 0) return outcomes;

    // A memory row that turned stale is checked against the SQL copy first:
    // another process may have refreshed it.
    const rows = new Map((await entries.getEntries(reads, needSql.map((i) => ids[i] as string))).map((r) => [r.id, r]));
    const waits: Array<Promise<void>> = [];
    for (const i of needSql) {
      const id = ids[i] as string;
      const row = rows.get(id);
      const view = row && viewOfRow(row);
      if (view) memory.offer(view);
      const age = view ? at - view.fetchedAt : Infinity;

      if (view && age < ttlMs) {
        outcomes[i] = view.state === 'ok' ? hit(view, at) : notFound('hit');
      } else if (view && view.state === 'ok' && age <= maxStaleMs) {
        outcomes[i] = serveStale(view, at);
      } else if (row && row.nextRefreshAt > at && row.errorCode) {
        // Nothing to serve and the upstream is failing: answer from the last
        // failure instead of asking again before the backoff ends.
        counters.miss++;
        outcomes[i] = failure(row.errorCode, row.nextRefreshAt, at, 'freshen; fwd=miss; detail=backoff');
      } else {
        counters.miss++;
        waits.push(
          (async () => {
            outcomes[i] = await waitForRefresh(id, !row, at);
          })(),
        );
      }
    }
    await Promise.all(waits);
    return outcomes;
  }

  function serveStale(view: EntryView, at: number): Answer {
    counters.stale++;
    let detail = '';
    if (view.errorCount > 0) detail = view.errorCode !== null && answeredBadly(view.errorCode) ? '; detail=invalid-upstream' : '; detail=backoff';
    if (view.nextRefreshAt <= at) refreshAfterAnswer(view.id);
    return answer(view, at, 'fwd=stale', true, detail);
  }

  function refreshAfterAnswer(id: string): void {
    if (closed || inflight.has(id)) return;
    if (!pool.hasCapacity()) {
      counters.refreshSkipped++;
      return;
    }
    // setImmediate: the answer in hand is written before the refresh starts.
    void refreshShared(id, { create: false, force: false, deferred: true }).catch((err: unknown) =>
      logger.error({ err, id }, 'background refresh failed'),
    );
  }

  async function waitForRefresh(id: string, create: boolean, at: number): Promise<Outcome> {
    const joined = inflight.has(id);
    if (closed && !joined) return new ShuttingDown();
    // The pool answers every failure of its own as a result; what is thrown
    // here (the database, say) is a server error, answered and told as one.
    const outcome = await draining.wait(refreshShared(id, { create, force: false, deferred: false }));
    // The refresh goes on (and is stored); this reader is answered before the server stops.
    if (outcome === 'drained') return new ShuttingDown();
    // Counted there when the answer comes from another process's refresh.
    if (outcome.kind === 'elsewhere') return answerFromOtherRefresher(id);
    if (joined) counters.collapsed++;
    if (outcome.kind === 'overloaded') return new Overloaded(1, { 'Cache-Status': 'freshen; fwd=miss; detail=overloaded' });
    const { result, view } = outcome;
    if (result.kind === 'ok' && view) return answer(view, at, joined ? 'fwd=miss; collapsed' : 'fwd=miss; stored');
    if (result.kind === 'not-found') return notFound(joined ? 'fwd=miss; collapsed' : 'fwd=miss');
    const code = result.kind === 'invalid' ? 'invalid' : result.kind === 'failed' ? result.code : 'worker-error';
    return failure(code, outcome.nextRefreshAt, now(), joined ? 'freshen; fwd=miss; collapsed' : 'freshen; fwd=miss');
  }

  /** Another process is refreshing this entry: wait (bounded) for its lease to end, then read. */
  async function answerFromOtherRefresher(id: string): Promise<Outcome> {
    const deadline = performance.now() + config.updater.taskTimeoutMs;
    for (;;) {
      const row = await entries.getEntry(reads, id);
      const at = now();
      if (row && (row.leaseOwner === null || row.leaseUntil < at)) {
        const view = viewOfRow(row);
        if (view) memory.offer(view);
        if (view?.state === 'ok' && at - view.fetchedAt <= maxStaleMs) {
          counters.collapsed++;
          return answer(view, at, 'fwd=miss; collapsed');
        }
        if (view?.state === 'not-found' && at - view.fetchedAt < ttlMs) return notFound('fwd=miss; collapsed');
        if (row.errorCode) return failure(row.errorCode, row.nextRefreshAt, at, 'freshen; fwd=miss; collapsed');
      }
      if (performance.now() >= deadline) return new UpstreamTimeout(1, { 'Cache-Status': 'freshen; fwd=miss' });
      if ((await draining.wait(sleep(POLL_MS))) === 'drained') return new ShuttingDown();
    }
  }

  function refreshShared(
    id: string,
    opts: { create: boolean; force: boolean; deferred: boolean },
  ): Promise<RefreshOutcome> {
    const running = inflight.get(id);
    if (running) return running;
    const promise = refresh(id, opts).finally(() => inflight.delete(id));
    inflight.set(id, promise);
    return promise;
  }

  async function refresh(
    id: string,
    opts: { create: boolean; force: boolean; deferred: boolean },
  ): Promise<RefreshOutcome> {
    if (opts.deferred) await new Promise((resolve) => setImmediate(resolve));
    if (!pool.hasCapacity()) {
      counters.refreshSkipped++;
      return { kind: 'overloaded' };
    }
    const claimedAt = now();
    const lease = await entries.claimLease(db, {
      id,
      owner,
      now: claimedAt,
      leaseMs,
      staleBefore: claimedAt - ttlMs,
      force: opts.force,
      create: opts.create,
    });
    if (!lease) return { kind: 'elsewhere' };
    const startedAt = performance.now();

    let result: RefreshResult;
    try {
      result = await pool.run({
        kind: 'refresh',
        id,
        upstreamUrl: deps.upstreamUrl,
        timeoutMs: config.upstream.timeoutMs,
        maxBytes: config.upstream.maxBytes,
        schemaPath: config.upstream.schemaPath,
      });
    } catch (err) {
      await entries.releaseLease(db, lease, now());
      if (err instanceof PoolFullError) {
        counters.refreshSkipped++;
        return { kind: 'overloaded' };
      }
      throw err;
    }
    counters.refreshes[result.kind]++;
    const outcome = await store(lease, result, now());
    deps.observeRefresh?.(result.kind, (performance.now() - startedAt) / 1000);
    return outcome;
  }

  async function store(lease: entries.Lease, result: RefreshResult, at: number): Promise<RefreshOutcome> {
    const { id } = lease;
    if (result.kind === 'ok') {
      const view: EntryView = {
        id,
        state: 'ok',
        fetchedAt: at,
        body: answerBody(id, result.record, at),
        etag: `W/"${result.hash}"`,
        related: result.related,
        errorCode: null,
        errorCount: 0,
        nextRefreshAt: 0,
      };
      if (await entries.storeRecord(db, lease, at, result)) {
        memory.set(view);
        pages.publish(id, result.record, at);
      } else {
        logger.warn({ id }, 'refresh result not stored: its lease was lost');
      }
      logger.debug({ id, bytes: result.bytes }, 'entry refreshed');
      return { kind: 'done', result, view, nextRefreshAt: 0 };
    }
    if (result.kind === 'not-found') {
      const view: EntryView = {
        id,
        state: 'not-found',
        fetchedAt: at,
        body: undefined,
        etag: undefined,
        related: [],
        errorCode: null,
        errorCount: 0,
        nextRefreshAt: 0,
      };
      if (await entries.storeNotFound(db, lease, at)) {
        memory.set(view);
        pages.publish(id, null, at); // its page goes too
      }
      return { kind: 'done', result, view, nextRefreshAt: 0 };
    }
    const code = result.kind === 'invalid' ? 'invalid' : result.code;
    const message = result.kind === 'invalid' ? `invalid: ${result.problems.join('; ')}` : result.message;
    // The upstream's Retry-After, if longer, is honoured (up to the backoff cap).
    const asked = result.kind === 'failed' ? Math.min(result.retryAfterMs ?? 0, backoffMaxMs) : 0;
    const nextRefreshAt = at + Math.max(backoffMs(lease.errorCount + 1, backoffMaxMs), asked);
    await entries.storeFailure(db, lease, at, { code, message, nextRefreshAt });
    if (result.kind === 'invalid') {
      await deps.notifier.invalidData({
        id,
        problems: result.problems,
        // The notice names the URL without the credentials it may carry.
        url: maskUrl(upstreamUrl(deps.upstreamUrl, id)),
        seenAt: at,
        title: result.title,
      });
    }
    const previous = memory.get(id);
    if (previous) {
      memory.set({ ...previous, errorCode: code, errorCount: lease.errorCount + 1, nextRefreshAt });
    }
    logger.warn({ id, code, failures: lease.errorCount + 1, retryInMs: nextRefreshAt - at, why: message }, 'refresh failed');
    return { kind: 'done', result, view: undefined, nextRefreshAt };
  }

  async function refreshNow(id: string): Promise<'queued'> {
    if (closed || !pool.hasCapacity()) throw new Overloaded(1);
    const start = () =>
      void refreshShared(id, { create: true, force: true, deferred: true }).catch((err: unknown) =>
        logger.error({ err, id }, 'requested refresh failed'),
      );
    const running = inflight.get(id);
    if (!running) {
      start();
    } else if (!followUps.has(id)) {
      // The refresh under way may have fetched before this request: fetch again
      // once it ends (however many requests arrive meanwhile).
      followUps.add(id);
      void running.finally(() => {
        followUps.delete(id);
        if (!closed) start();
      });
    }
    return 'queued';
  }

  function drain(graceMs: number): void {
    closed = true;
    draining.begin(graceMs);
  }

  async function settled(): Promise<void> {
    await Promise.allSettled(inflight.values());
    await pages.settled();
  }

  async function close(): Promise<void> {
    closed = true;
    const deadline = sleep(config.updater.taskTimeoutMs, undefined, { ref: false });
    await Promise.race([settled(), deadline]);
  }

  return { peek, get, getMany, refreshNow, counters: () => counters, memoryEntries: () => memory.size, drain, close };
}
