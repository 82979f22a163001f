// The one freshness check, as the rest of the server sees it: every read — one
// entry, a list, entries reached through a relation — comes here. Inside, the
// decision (decision.ts) says serve / serve and refresh behind / wait / answer a
// remembered failure; the reader (reader.ts) walks memory → SQL → refresh; the
// refresher (refresher.ts) runs refreshes single-flight and stores them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { EntryReads } from '../../db/entry-reads.js';
import type { Db } from '../../db/knex.js';
import type { UpdaterPool } from '../../workers/pool.js';
import type { Config } from '../config/config.js';
import type { Notifier } from '../notices/notifier.js';
import type { PagePublisher } from '../publishing/page-publisher.js';
import { createDrain } from './drain.js';
import { createMemoryTier } from './memory-tier.js';
import type { FreshnessPolicy } from '../../shared/freshness-policy.js';
import type { Answer, Outcome } from './outcome.js';
import { createReader, type ReadCounters } from './reader.js';
import { createBreaker, type BreakerCounters, type BreakerView } from './breaker.js';
import { createRefresher, processOwner, type RefreshCounters } from './refresher.js';
import { createUpstreamGate, type GateStats } from './upstream-gate.js';
import { DEFAULT_SOURCE } from '../../shared/sources.js';

export { isRefusal, type Answer, type CacheOutcome, type Outcome, type Refusal } from './outcome.js';

export type FreshnessCounters = ReadCounters & RefreshCounters;

export interface Freshness {
  /** The check's first step, synchronous: the answer if the memory tier holds the entry fresh. */
  peek(id: string): Answer | undefined;
  /** One entry: served, or refused and why. */
  get(id: string): Promise<Outcome>;
  /** Many entries, each through the same check; order kept. */
  getMany(ids: readonly string[]): Promise<Outcome[]>;
  /** An operator's refresh: now, ignoring backoff (after the one under way, if any); 'overloaded' when the pool is full or the server stops. */
  refreshNow(id: string): 'queued' | 'overloaded';
  counters(): FreshnessCounters;
  /** Is a refresh of this entry (its fetch and its store) under way in this process? */
  refreshing(id: string): boolean;
  /** Entries held in the memory tier. */
  memoryEntries(): number;
  /** The upstream's circuit breaker, as this process sees it. */
  upstream(): BreakerView & BreakerCounters & { gate: GateStats };
  /** An entry was stored by lease owner `owner`: unless that is this process, its copy here is dropped, and true returned. */
  storedElsewhere(id: string, owner: string): boolean;
  /** These entries were purged (here or on another node): their copies here are dropped. */
  forget(ids: readonly string[]): void;
  /** Stores by other processes may have gone unheard: drop every copy held in memory. */
  forgetAll(): void;
  /**
   * The server is stopping: no refresh starts any more (a miss is answered 503),
   * and a reader still waiting for one after `graceMs` is answered 503 too.
   */
  drain(graceMs: number): void;
  /** Stop scheduling refreshes and wait (bounded) for those under way. */
  close(): Promise<void>;
}

export interface FreshnessDeps {
  /** The source whose entries these are (default: the one the env vars describe). */
  source?: string;
  db: Db;
  /** Rows by id, prepared and batched (the cold path). */
  rows: EntryReads;
  pool: UpdaterPool;
  config: Config;
  /** The URL template the updater fetches. */
  upstreamUrl: string;
  /** What its breaker is kept under, fleet-wide (default: the upstream's origin). */
  breakerKey?: string;
  logger: Logger;
  /** Told (and awaited) when upstream data fails the schema. */
  notifier: Notifier;
  /** Writes each refreshed entry's page. */
  pages: PagePublisher;
  /** Told each refresh's outcome and duration (pool hand-off to stored). */
  observeRefresh?: (outcome: string, seconds: number) => void;
  now?: () => number;
  /** Told when a read finds the database away. */
  onDatabaseUnavailable?: (err: unknown) => void;
  /** Told when this process stored a record or a 404. */
  onStored?: (id: string) => void;
}

export function createFreshness(deps: FreshnessDeps): Freshness {
  const { pool, config, logger } = deps;
  const source = deps.source ?? DEFAULT_SOURCE;
  const now = deps.now ?? Date.now;
  const policy = freshnessPolicy(config);
  const memory = createMemoryTier(config.entries.memoryMaxBytes);
  const draining = createDrain();
  const counters: FreshnessCounters = {
    hit: 0,
    stale: 0,
    miss: 0,
    collapsed: 0,
    refreshSkipped: 0,
    refreshes: { ok: 0, 'not-modified': 0, 'not-found': 0, invalid: 0, failed: 0 },
  };
  const { pages } = deps;
  const self = processOwner();
  const { upstream } = config;
  const breaker = createBreaker({
    db: deps.db,
    origin: deps.breakerKey ?? upstreamOrigin(deps.upstreamUrl),
    owner: self,
    settings: {
      failurePercent: upstream.breakerFailurePercent,
      minAttempts: upstream.breakerMinAttempts,
      windowMs: upstream.breakerWindowMs,
      coolOffMs: upstream.breakerCoolOffMs,
      maxCoolOffMs: upstream.breakerMaxCoolOffMs,
      // A probe is one refresh: it ends by the task timeout, whatever the upstream does.
      probeTimeoutMs: config.updater.taskTimeoutMs,
    },
    logger,
    now,
    // The notifier holds what the database does not take; anything else thrown is logged, never left unhandled.
    opened: (info) => void deps.notifier.upstreamUnhealthy({ ...info, node: self }).catch((err: unknown) => logger.error({ err }, 'could not queue the upstream-unhealthy notice')),
    closed: (info) => void deps.notifier.upstreamHealthy({ ...info, node: self }).catch((err: unknown) => logger.error({ err }, 'could not queue the upstream-healthy notice')),
    onError: (err) => logger.debug({ why: (err as Error).message }, 'the upstream breaker could not reach the database; keeping its last state'),
  });
  const gate = createUpstreamGate({ maxConcurrency: upstream.maxConcurrency, maxRps: upstream.maxRps, missWaitMs: upstream.timeoutMs });
  const refresher = createRefresher({
    owner: self,
    source,
    breaker,
    gate,
    db: deps.db,
    pool,
    memory,
    pages,
    notifier: deps.notifier,
    logger,
    counters,
    upstreamUrl: deps.upstreamUrl,
    upstream: { timeoutMs: config.upstream.timeoutMs, maxBytes: config.upstream.maxBytes, schemaPath: config.upstream.schemaPath },
    cacheControl: { obey: config.upstream.cacheControl === 'obey', minTtlMs: config.entries.ttlMinMs, maxTtlMs: config.entries.ttlMaxMs },
    policy,
    backoffMaxMs: config.entries.backoffMaxMs,
    leaseMs: config.updater.taskTimeoutMs + 5000,
    observeRefresh: deps.observeRefresh,
    onStored: deps.onStored,
    now,
  });
  const reader = createReader({
    source,
    memory,
    upstreamHeld: breaker.isOpen,
    rows: deps.rows,
    refresher,
    policy,
    counters,
    draining,
    waitMs: config.updater.taskTimeoutMs,
    onDatabaseUnavailable: deps.onDatabaseUnavailable,
    now,
  });

  async function get(id: string): Promise<Outcome> {
    const [outcome] = await reader.read([id]);
    return outcome as Outcome;
  }

  function refreshNow(id: string): 'queued' | 'overloaded' {
    if (refresher.stopped || !pool.hasCapacity()) return 'overloaded';
    refresher.requestNow(id);
    return 'queued';
  }

  return {
    peek: reader.peek,
    get,
    getMany: reader.read,
    refreshNow,
    counters: () => counters,
    refreshing: (id) => refresher.running(id),
    memoryEntries: () => memory.size,
    upstream: () => ({ ...breaker.view(), ...breaker.counters(), gate: gate.stats() }),
    storedElsewhere(id, owner) {
      if (owner === refresher.owner) return false;
      memory.delete(id);
      return true;
    },
    forget(ids) {
      for (const id of ids) memory.delete(id);
    },
    forgetAll: () => memory.clear(),
    drain(graceMs) {
      refresher.stop();
      draining.begin(graceMs);
    },
    async close() {
      refresher.stop();
      breaker.stop();
      const deadline = sleep(config.updater.taskTimeoutMs, undefined, { ref: false });
      await Promise.race([refresher.settled(), deadline]);
    },
  };
}

/** The one freshness policy, from the settings: the reads, the refreshes and the lease claim all ask it. */
export function freshnessPolicy(config: Config): FreshnessPolicy {
  const { ttlMs, notFoundTtlMs, maxStaleMs, refreshAhead } = config.entries;
  return Object.freeze({ ttlMs, notFoundTtlMs, maxStaleMs, refreshAhead });
}

/** The origin of the URL template (`{id}` is in its path or query, never its host): what the breaker guards. */
export function upstreamOrigin(template: string): string {
  return new URL(template.replaceAll('{id}', 'id')).origin;
}

/** The counters of several sources' checks, added up. */
export function sumCounters(list: readonly FreshnessCounters[]): FreshnessCounters {
  if (list.length === 1) return list[0] as FreshnessCounters;
  const sum: FreshnessCounters = { hit: 0, stale: 0, miss: 0, collapsed: 0, refreshSkipped: 0, refreshes: { ok: 0, 'not-modified': 0, 'not-found': 0, invalid: 0, failed: 0 } };
  for (const c of list) {
    sum.hit += c.hit;
    sum.stale += c.stale;
    sum.miss += c.miss;
    sum.collapsed += c.collapsed;
    sum.refreshSkipped += c.refreshSkipped;
    for (const k of Object.keys(sum.refreshes) as Array<keyof FreshnessCounters['refreshes']>) sum.refreshes[k] += c.refreshes[k];
  }
  return sum;
}
