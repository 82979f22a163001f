// Runs refreshes, single flight: one per entry in this process (the in-flight
// map) and across processes (the SQL lease, claimed in one statement). A
// refresh claims the lease, hands the fetch to the updater pool, and stores
// what comes back — the record, the upstream's 404, or the failure with its
// backoff — in SQL and in the memory tier. It never decides whether a read
// needs a refresh: that is the decision's (decision.ts).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import * as leases from '../../db/entry-leases.js';
import type { Db } from '../../db/knex.js';
import { backoffMs } from '../../shared/backoff.js';
import type { FreshnessPolicy } from '../../shared/freshness-policy.js';
import type { UpdaterPool } from '../../workers/pool.js';
import { PoolFullError } from '../../workers/pool.js';
import type { CacheControlPolicy, RefreshResult } from '../../workers/protocol.js';
import type { Notifier } from '../notices/notifier.js';
import type { PagePublisher } from '../publishing/page-publisher.js';
import type { Admission, Breaker } from './breaker.js';
import { createRefreshStore } from './refresh-store.js';
import type { UpstreamGate } from './upstream-gate.js';
import type { EntryView, MemoryTier } from './memory-tier.js';

export type RefreshOutcome =
  | {
      kind: 'done';
      result: RefreshResult;
      view: EntryView | undefined;
      nextRefreshAt: number;
    }
  | { kind: 'overloaded' }
  // The upstream's breaker is open: nothing was sent; try again at retryAt.
  | { kind: 'held'; retryAt: number }
  // Another process holds the lease, or another refresher just finished: read the row.
  | { kind: 'elsewhere' };

export interface RefreshOptions {
  /** The entry may have no row yet: create it, leased. */
  create: boolean;
  /** An operator's refresh: ignore backoff and freshness. */
  force: boolean;
  /** Start after the answer in hand is written (setImmediate). */
  deferred: boolean;
  /** A refresh ahead of the TTL: claimed once the entry has lived that fraction of it. */
  ahead?: boolean;
}

export interface RefreshCounters {
  refreshSkipped: number;
  refreshes: Record<RefreshResult['kind'], number>;
}

export interface Refresher {
  /** This process's name on the leases it claims (`host:pid:nonce`). */
  readonly owner: string;
  /** The refresh of this entry: the one under way in this process, or a new one. */
  run(id: string, opts: RefreshOptions): Promise<RefreshOutcome>;
  /** Is a refresh of this entry under way in this process? */
  running(id: string): boolean;
  /** A stale entry was answered: refresh it behind the answer, if the pool has room. */
  inBackground(id: string): void;
  /**
   * A fresh entry past ENTRY_REFRESH_AHEAD of its TTL was answered: refresh it
   * behind the answer, tried once per fetch of it in this process.
   */
  ahead(id: string, fetchedAt: number): void;
  /** An operator's refresh: now, ignoring backoff (after the one under way, if any). */
  requestNow(id: string): void;
  /** No refresh starts any more. */
  stop(): void;
  readonly stopped: boolean;
  /** Resolves when every refresh under way (and its page write) has ended. */
  settled(): Promise<void>;
}

/** A name for this process on the leases it claims (`host:pid:nonce`): unique across restarts. */
export function processOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export interface RefresherDeps {
  /** This process's name on the leases (processOwner()). */
  owner: string;
  /** The source whose entries these are (shared/sources.ts). */
  source: string;
  db: Db;
  pool: UpdaterPool;
  memory: MemoryTier;
  pages: PagePublisher;
  notifier: Notifier;
  logger: Logger;
  counters: RefreshCounters;
  /** The URL template the updater fetches. */
  upstreamUrl: string;
  upstream: { timeoutMs: number; maxBytes: number; schemaPath: string };
  cacheControl: CacheControlPolicy;
  /** When a refresh is due: the lease claim asks the policy, as the reads do. */
  policy: FreshnessPolicy;
  backoffMaxMs: number;
  leaseMs: number;
  /** Told each refresh's outcome and duration (pool hand-off to stored). */
  observeRefresh?: (outcome: string, seconds: number) => void;
  /** Told when a record or a 404 was stored, for the other processes of a cluster. */
  onStored?: (id: string) => void;
  /** The upstream's circuit breaker: asked before each fetch, told each result. */
  breaker: Breaker;
  /** The caps on what this process asks of the upstream. */
  gate: UpstreamGate;
  now: () => number;
}

export function createRefresher(deps: RefresherDeps): Refresher {
  const { db, pool, pages, logger, counters, breaker, gate, now } = deps;
  const { owner } = deps;
  const inflight = new Map<string, Promise<RefreshOutcome>>();
  // Entries an operator asked to refresh again once the refresh under way ends.
  const followUps = new Set<string>();
  // The fetch of each entry a refresh ahead was tried for: one try per fetch.
  const aheadTried = new Map<string, number>();
  let stopped = false;
  const store = createRefreshStore({
    ...deps,
    // An operator asked for a refresh while this one held the lease: another one follows it.
    followUp: (id) => {
      if (!stopped) requestNow(id);
    },
  });

  function run(id: string, opts: RefreshOptions): Promise<RefreshOutcome> {
    const running = inflight.get(id);
    if (running) return running;
    const promise = refresh(id, opts).finally(() => inflight.delete(id));
    inflight.set(id, promise);
    return promise;
  }

  async function refresh(id: string, opts: RefreshOptions): Promise<RefreshOutcome> {
    if (opts.deferred) await new Promise((resolve) => setImmediate(resolve));
    if (!pool.hasCapacity()) {
      counters.refreshSkipped++;
      return { kind: 'overloaded' };
    }
    // Misses (and an operator's refresh) go ahead of stale and ahead refreshes when the upstream's caps bind.
    const pass = await gate.enter(opts.deferred && !opts.force ? 'background' : 'miss');
    if (!pass) {
      counters.refreshSkipped++;
      return { kind: 'overloaded' };
    }
    let sent = false;
    try {
      // Asked after any wait for the gate: the upstream may have fallen sick meanwhile.
      const admission = await breaker.admit();
      if (!admission.send) return { kind: 'held', retryAt: admission.retryAt };
      const lease = await claimFor(id, opts).catch((err: unknown) => {
        breaker.unused(admission);
        throw err;
      });
      if (!lease) {
        breaker.unused(admission);
        return { kind: 'elsewhere' };
      }
      sent = true;
      return await fetchAndStore(id, lease, admission);
    } finally {
      if (sent) pass.release();
      else pass.unused();
    }
  }

  /** The entry's lease, if this process may refresh it now. */
  async function claimFor(id: string, opts: RefreshOptions): Promise<leases.Lease | undefined> {
    const claim = (at: number) =>
      leases.claimLease(db, { source: deps.source, id, owner, now: at, leaseMs: deps.leaseMs, policy: deps.policy, ahead: opts.ahead, force: opts.force, create: opts.create });
    let lease = await claim(now());
    // Another process holds the lease: an operator's refresh is left on the row
    // for the holder — unless the lease ended meanwhile, when it is claimed here.
    for (let tries = 0; !lease && opts.force && tries < 3; tries++) {
      if (await leases.requestRefresh(db, deps.source, id, now())) break;
      lease = await claim(now());
    }
    return lease;
  }

  async function fetchAndStore(id: string, lease: leases.Lease, admission: Admission): Promise<RefreshOutcome> {
    const startedAt = performance.now();
    let result: RefreshResult;
    try {
      result = await pool.run({
        kind: 'refresh',
        id,
        upstreamUrl: deps.upstreamUrl,
        ...deps.upstream,
        cacheControl: deps.cacheControl,
        ...(lease.validators ? { validators: lease.validators } : {}),
      });
    } catch (err) {
      breaker.unused(admission);
      await leases.releaseLease(db, lease, now());
      if (err instanceof PoolFullError) {
        counters.refreshSkipped++;
        return { kind: 'overloaded' };
      }
      throw err;
    }
    counters.refreshes[result.kind]++;
    await breaker.record(result, admission);
    let outcome: RefreshOutcome;
    try {
      outcome = await store(lease, result, now());
    } catch (err) {
      // Not stored: the failure is recorded (which gives the lease back) if
      // the database lets it, so the entry is not fetched again and again.
      const at = now();
      const why = err instanceof Error ? err.message : String(err);
      await leases
        .storeFailure(db, lease, at, { code: 'store-error', message: `not stored: ${why}`, nextRefreshAt: at + backoffMs(lease.errorCount + 1, deps.backoffMaxMs) })
        .catch(() => undefined);
      throw err;
    }
    deps.observeRefresh?.(result.kind, (performance.now() - startedAt) / 1000);
    return outcome;
  }


  function inBackground(id: string): void {
    if (stopped || inflight.has(id)) return;
    if (!pool.hasCapacity()) {
      counters.refreshSkipped++;
      return;
    }
    void run(id, { create: false, force: false, deferred: true }).catch((err: unknown) =>
      logger.error({ err, id }, 'background refresh failed'),
    );
  }

  function ahead(id: string, fetchedAt: number): void {
    if (stopped || inflight.has(id) || aheadTried.get(id) === fetchedAt) return;
    // Bounded: a process reading many entries forgets its oldest tries.
    if (aheadTried.size >= 10_000) aheadTried.clear();
    aheadTried.set(id, fetchedAt);
    if (!pool.hasCapacity()) {
      counters.refreshSkipped++;
      return;
    }
    void run(id, { create: false, force: false, deferred: true, ahead: true }).catch((err: unknown) =>
      logger.error({ err, id }, 'refresh ahead failed'),
    );
  }

  function requestNow(id: string): void {
    const start = () =>
      void run(id, { create: true, force: true, deferred: true }).catch((err: unknown) =>
        logger.error({ err, id }, 'requested refresh failed'),
      );
    const running = inflight.get(id);
    if (!running) {
      start();
    } else if (!followUps.has(id)) {
      // The refresh under way may have fetched before this request: fetch again
      // once it ends (however many requests arrive meanwhile).
      followUps.add(id);
      const next = () => {
        followUps.delete(id);
        if (!stopped) start();
      };
      // Whether the refresh under way succeeded or failed (its own caller hears how).
      void running.then(next, next);
    }
  }

  return {
    owner,
    run,
    running: (id) => inflight.has(id),
    inBackground,
    ahead,
    requestNow,
    stop: () => void (stopped = true),
    get stopped() {
      return stopped;
    },
    async settled() {
      await Promise.allSettled(inflight.values());
      await pages.settled();
    },
  };
}
