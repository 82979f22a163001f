// What the operator endpoints show, gathered from the live parts: the outbox,
// and the whole status of this process (settings, pool, cache, errors, mail).
import { estimateRows } from '../../db/bulk.js';
import { listRecentErrors, type RecentError } from '../../db/entry-listings.js';
import type { Db } from '../../db/knex.js';
import { listMessages, outboxStats, type OutboxRow, type OutboxStats } from '../../db/outbox.js';
import type { MailerStats, Mailers } from '../../workers/mail/launcher.js';
import type { PoolStats, UpdaterPool } from '../../workers/pool.js';
import { describeConfig, type Config } from '../config/config.js';
import { SETTING_ROWS } from '../config/settings.js';
import { sumCounters, type Freshness, type FreshnessCounters } from '../freshness/freshness.js';
import type { DeadLetterAction, DeadLetters } from './dead-letters.js';
import type { Plotted } from './history.js';
import { DEFAULT_SOURCE } from '../../shared/sources.js';
import { maskUrl } from '../../shared/mask-url.js';

export interface RecentMessage {
  id: number;
  kind: string;
  state: string;
  subject: string;
  attempts: number;
  createdAt: string;
  sentAt: string | null;
  lastError: string | null;
}

export interface OutboxView extends OutboxStats {
  mailers: MailerStats;
  recent: RecentMessage[];
  /** Dead messages (newest first, at most DEAD_SHOWN), with their last error: to retry or delete. */
  dead: RecentMessage[];
  /** What operators did to dead messages, through this process. */
  actions: DeadLetterAction[];
}

const DEAD_SHOWN = 50;

export interface UpstreamView {
  origin: string;
  state: 'closed' | 'open' | 'probing';
  /** Open: when the next probe may go. */
  probeAt: string | null;
  openedAt: string | null;
  openedBy: string | null;
  reason: string | null;
  /** This process's window: refreshes sent, and failed. */
  attempts: number;
  failures: number;
  held: number;
  probes: number;
  /** UPSTREAM_MAX_CONCURRENCY and UPSTREAM_MAX_RPS in this process: requests in flight, refreshes waiting and turned away. */
  inFlight: number;
  waiting: { miss: number; background: number };
  capped: { miss: number; background: number };
}

/** One source: where it is served, what it asks, what its check did here. */
export interface SourceView {
  name: string;
  path: string;
  /** Its upstream URL template, credentials masked. */
  upstream: string;
  ttlSeconds: number;
  contentTeam: number;
  webhook: boolean;
  cache: FreshnessCounters;
  memoryEntries: number;
  breaker: UpstreamView['state'];
}

export interface StatusView {
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  settings: Record<string, unknown>;
  pool: PoolStats;
  cache: FreshnessCounters;
  memoryEntries: number;
  /** The upstream's circuit breaker (times in ISO 8601): of the default source, else the first. */
  upstream: UpstreamView;
  /** The source whose upstream that is. */
  upstreamOf: string;
  /** Every source (one, `entries`, unless SOURCES_FILE names several). */
  sources: SourceView[];
  /** Rows in the entries table, estimated (db/bulk.ts: never counted). */
  storedEntries: number;
  recentErrors: RecentError[];
  outbox: OutboxView;
}

export interface AdminViews {
  outbox(): Promise<OutboxView>;
  status(): Promise<StatusView>;
  deadLetters: DeadLetters;
  /** The last 5 minutes and the last hour, for the plots: this process's, or its node's in a cluster. */
  plotted: () => Promise<Plotted>;
}

export function createAdminViews(deps: {
  db: Db;
  config: Config;
  pool: UpdaterPool;
  /** Every source; the upstream cards are of the default one (else the first). */
  sources: ReadonlyArray<{ name: string; path: string; upstreamUrl: string; config: Config; freshness: Freshness }>;
  mailers: Mailers;
  deadLetters: DeadLetters;
  plotted: () => Promise<Plotted>;
  /** The database's clock, which the outbox's times are in. */
  now: () => number;
}): AdminViews {
  const { db, config, pool, mailers } = deps;
  const main = deps.sources.find((s) => s.name === DEFAULT_SOURCE) ?? (deps.sources[0] as (typeof deps.sources)[number]);
  // Uptime counts on the monotonic clock; the start is shown as a wall-clock time.
  const started = performance.now();
  const startedAt = new Date().toISOString();
  // The settings the table marks for this page, as --print-config shows them.
  const described = describeConfig(config);
  const settings = Object.fromEntries(SETTING_ROWS.filter(([, s]) => s.status).map(([name]) => [name, described[name]]));

  async function outbox(): Promise<OutboxView> {
    const [stats, recent, dead] = await Promise.all([outboxStats(db, deps.now()), listMessages(db, 10), listMessages(db, DEAD_SHOWN, 'dead')]);
    return {
      ...stats,
      mailers: mailers.stats(),
      recent: recent.map(shown),
      dead: dead.map(shown),
      actions: deps.deadLetters.actions(),
    };
  }

  return {
    outbox,
    deadLetters: deps.deadLetters,
    plotted: deps.plotted,
    async status() {
      const [recentErrors, mail, storedEntries] = await Promise.all([listRecentErrors(db, 15), outbox(), estimateRows(db, 'entries')]);
      return {
        pid: process.pid,
        startedAt,
        uptimeSeconds: Math.floor((performance.now() - started) / 1000),
        settings,
        pool: pool.stats(),
        cache: sumCounters(deps.sources.map((s) => s.freshness.counters())),
        memoryEntries: deps.sources.reduce((n, s) => n + s.freshness.memoryEntries(), 0),
        upstream: upstreamView(main.freshness),
        upstreamOf: main.name,
        sources: deps.sources.map((s) => ({
          name: s.name,
          path: s.path,
          upstream: maskUrl(s.upstreamUrl),
          ttlSeconds: s.config.entries.ttlMs / 1000,
          contentTeam: s.config.mail.contentTeam.length,
          webhook: s.config.webhookSecret !== undefined,
          cache: s.freshness.counters(),
          memoryEntries: s.freshness.memoryEntries(),
          breaker: s.freshness.upstream().state,
        })),
        storedEntries,
        recentErrors,
        outbox: mail,
      };
    },
  };
}

function upstreamView(freshness: Freshness): UpstreamView {
  const u = freshness.upstream();
  const open = u.state !== 'closed';
  return {
    origin: u.origin,
    state: u.state,
    probeAt: open ? new Date(u.openUntil).toISOString() : null,
    openedAt: open && u.openedAt > 0 ? new Date(u.openedAt).toISOString() : null,
    openedBy: open ? u.openedBy : null,
    reason: open ? u.reason : null,
    attempts: u.attempts,
    failures: u.failures,
    held: u.held,
    probes: u.probes,
    inFlight: u.gate.inFlight,
    waiting: u.gate.waiting,
    capped: u.gate.refused,
  };
}

function shown(m: OutboxRow): RecentMessage {
  return {
    id: m.id,
    kind: m.kind,
    state: m.state,
    subject: m.subject,
    attempts: m.attempts,
    createdAt: new Date(m.createdAt).toISOString(),
    sentAt: m.sentAt === null ? null : new Date(m.sentAt).toISOString(),
    lastError: m.lastError,
  };
}
