// Wires one freshen process together: database (migrated), updater pool,
// freshness check, Koa app, HTTP server — and the demo upstream when
// UPSTREAM_URL is unset. close() stops them in reverse order.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { openEntryReads } from '../db/entry-reads.js';
import { openDatabase, ping, type Knex } from '../db/knex.js';
import { migrateDatabase } from '../db/migrate.js';
import { startDbClock } from '../db/clock.js';
import { listenForStored } from '../db/notifications.js';
import cluster from 'node:cluster';
import { clusterStores } from './cluster.js';
import { outboxStats } from '../db/outbox.js';
import { startDemoUpstream, type DemoUpstream } from '../demo/server.js';
import { createMailers, type Mailers } from '../workers/mail/launcher.js';
import { createUpdaterPool, type BackendFactory, type UpdaterPool } from '../workers/pool.js';
import { createAccessLog } from './http/access-log.js';
import { entryListener } from './http/entry-listener.js';
import { createAdminViews } from './ops/admin-views.js';
import { createDeadLetters } from './ops/dead-letters.js';
import { createHistory, type History, type Plotted } from './ops/history.js';
import { createApp } from './http/app.js';
import type { Config } from './config/config.js';
import { freshnessPolicy, sumCounters, type Freshness } from './freshness/freshness.js';
import type { FreshnessPolicy } from '../shared/freshness-policy.js';
import { sourcesOf } from './config/sources.js';
import { serveSource, type ServedSource } from './served-source.js';
import { createPurger } from './freshness/purge.js';
import { createWebhooks } from './freshness/webhook.js';
import { DEFAULT_SOURCE } from '../shared/sources.js';
import { createLogger } from './log.js';
import { added, createMetrics, type Metrics } from './ops/metrics.js';
import type { MetricsText } from './http/routes/health.js';
import { createNotifier } from './notices/notifier.js';
import { startRetention } from './ops/retention.js';
import { createDatabaseWatch } from './ops/database-watch.js';
import { watchUnexpected } from './ops/unexpected.js';

const OUTBOX_READING_MS = 5000;

export interface Service {
  /** http://host:port of the listening server. */
  url: string;
  /** The URL template the updater fetches (for the default source, else the first). */
  upstreamUrl: string;
  demo: DemoUpstream | undefined;
  /** The default source's freshness check (else the first source's). */
  freshness: Freshness;
  /** Every source, by name. */
  sources: ReadonlyMap<string, ServedSource>;
  pool: UpdaterPool;
  mailers: Mailers;
  server: Server;
  close(): Promise<void>;
}

export interface ServiceOptions {
  logger?: Logger;
  /** The freshness check's clock, in ms since the epoch (the database's by default); tests pass their own. Mail always runs on the database's. */
  now?: () => number;
  /** The updater's task module; tests swap in one that misbehaves on purpose. */
  updaterModule?: URL;
  /** Another pool backend than the config's runtime: the benchmark's baselines. */
  updaterBackend?: BackendFactory;
  /** Run the migrations (a cluster's primary does it once for its workers). */
  migrate?: boolean;
  /** What /metrics answers; by default this process's own metrics. */
  metricsText?: (metrics: Metrics) => MetricsText;
  /** What the status page plots; by default this process's own history (a cluster's worker: the node's). */
  plotted?: (history: History) => () => Promise<Plotted>;
  /** Take over the process's unhandled rejections and uncaught exceptions (the command line does). */
  watchUnexpected?: boolean;
  /** Build the page index and sweep the pages (default): one process of a cluster, which share PUBLISH_DIR. */
  pageKeeper?: boolean;
}

export async function startService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? createLogger(config);
  const metrics = createMetrics();
  const stops: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const stop of stops.splice(0).toReversed()) await stop();
  };
  try {
    const sources = sourcesOf(config);
    let demo: DemoUpstream | undefined;
    // A source with no upstream URL (none in the file, UPSTREAM_URL unset) is served from the demo upstream.
    if (sources.some((s) => s.config.upstream.url === undefined)) {
      demo = await startDemoUpstream({ latencyMs: config.demo.latencyMs, failureRate: config.demo.failureRate });
      stops.push(() => (demo as DemoUpstream).close());
    }

    if (options.migrate !== false) await migrateDatabase(config.database);
    const db: Knex = openDatabase(config.database, config.databasePool);
    stops.push(() => db.destroy());
    // Reads by id have connections of their own on SQLite (DATABASE_POOL_MAX - 1),
    // so a read never queues behind a write waiting for a lock, and reads run at
    // once (WAL); on Postgres they borrow from the pool.
    const rows = await openEntryReads(config.database, db, Math.max(1, config.databasePool.max - 1), config.databasePool.namedStatements);
    stops.push(() => rows.close());
    // Leases, claims, backoff and fetched-at are in the database's time.
    const clock = await startDbClock(db, {
      onError: (err) => logger.warn({ why: (err as Error).message }, 'could not read the database clock; keeping the last offset'),
    });
    stops.push(async () => clock.stop());
    if (Math.abs(clock.offsetMs()) > 1000) {
      logger.warn({ offsetMs: clock.offsetMs() }, "this node's clock differs from the database's; freshen keeps to the database's");
    }

    const mailers = createMailers({ config, db, logger, now: clock.now });
    // Mailers stop beside the HTTP server (see its stop below), within the
    // same bound: half of it to end their batch on their own, the rest to
    // finish the message in hand.
    const stopMailers = () => mailers.stop(config.shutdownTimeoutMs / 2, config.shutdownTimeoutMs);
    stops.push(stopMailers);
    const notifier = createNotifier({ db, config, mailers, logger, now: clock.now });
    stops.push(async () => notifier.stop());
    const unexpected = options.watchUnexpected ? watchUnexpected({ logger, notifier }) : undefined;
    if (unexpected) stops.push(async () => unexpected.stop());
    // Messages left by an earlier run (or a killed mailer) go out now.
    void mailers.sweep();

    const pool = createUpdaterPool(
      {
        ...config.updater,
        taskModule: options.updaterModule,
        observe: (t) => metrics.observePoolTask(t.kind, t.waitMs, t.runMs),
        onWorkerError: (err) => logger.warn({ why: err.message }, 'an idle updater worker died; another takes its place'),
      },
      options.updaterBackend,
    );
    stops.push(() => pool.close());
    const database = createDatabaseWatch({ db, logger, notifier, now: clock.now });
    stops.push(async () => database.stop());

    // Other processes' stores reach this memory tier: LISTEN on Postgres, the
    // cluster primary between workers on SQLite (see README, Running several nodes).
    let announceStored: ((source: string, id: string) => void) | undefined;
    let announcePurged: ((source: string, ids: readonly string[], hard: boolean) => void) | undefined;
    let hearStored: ((source: string, id: string, owner: string) => void) | undefined;
    let hearPurged: ((source: string, ids: readonly string[], hard: boolean) => void) | undefined;
    if (config.database.client === 'postgres') {
      const listener = listenForStored(config.database.url, db, {
        stored: (source, id, owner) => hearStored?.(source, id, owner),
        purged: (batch) => hearPurged?.(batch.source, batch.ids, batch.hard),
        resumed: () => {
          logger.info('listening for other nodes’ refreshes again; this process’s memory tier starts afresh');
          for (const s of served.values()) s.freshness.forgetAll();
        },
        lost: (err) => logger.warn({ why: (err as Error).message }, 'not hearing other nodes’ refreshes; trying again'),
        mode: (how, why) =>
          how === 'listen'
            ? logger.info({ why }, 'hearing other nodes’ refreshes by LISTEN')
            : logger.warn({ why }, 'LISTEN does not hear here: polling for other nodes’ refreshes every second instead'),
      });
      stops.push(() => listener.close());
    } else if (cluster.isWorker) {
      const announce = clusterStores({ stored: (source, id) => hearStored?.(source, id, ''), purged: (source, ids, hard) => hearPurged?.(source, ids, hard) });
      announceStored = announce.stored;
      announcePurged = announce.purged;
    }

    // The last hour of this process, for the status page's plots.
    const history = createHistory();
    let lastOutbox = { outboxUnsent: 0, outboxOldest: 0 };
    // Each source: its pages (written after each refresh, listed in the index's
    // shards, repaired where this node's disagree with the copy: README,
    // Published pages) and its freshness check, with its own policy, breaker,
    // caps and memory tier.
    const served = new Map<string, ServedSource>();
    for (const source of sources) {
      const onStored = announceStored && ((id: string) => announceStored?.(source.name, id));
      const one = serveSource(source, {
        db,
        rows,
        pool,
        notifier,
        // Logs name the source when there are several.
        logger: sources.length > 1 ? logger.child({ source: source.name }) : logger,
        several: sources.length > 1,
        upstreamUrl: source.config.upstream.url ?? (demo as DemoUpstream).url,
        now: options.now ?? clock.now,
        observeRefresh: (outcome, seconds) => {
          metrics.observeRefresh(outcome, seconds);
          history.observeRefresh(seconds * 1000);
        },
        onDatabaseUnavailable: (err) => database.unavailable(err),
        onStored,
      });
      stops.push(...one.stops);
      served.set(source.name, one.served);
    }
    const all = [...served.values()];
    // The sources' checks close together: each waits (bounded) for its refreshes under way.
    stops.push(async () => void (await Promise.all(all.map((s) => s.freshness.close()))));
    // The default source where one is asked for (tests, the benchmarks): else the first.
    const main = served.get(DEFAULT_SOURCE) ?? (all[0] as ServedSource);
    hearStored = (source, id, owner) => {
      const to = served.get(source);
      // Another node's store may have changed the record this node's page shows.
      if (to?.freshness.storedElsewhere(id, owner)) to.pageRepair.check(id);
    };
    hearPurged = (source, ids, hard) => {
      const to = served.get(source);
      if (to === undefined) return;
      to.freshness.forget(ids);
      // A dropped entry's page goes on every node.
      if (hard) for (const id of ids) to.pageRepair.check(id);
    };
    const policies = new Map(all.map((s) => [s.name, freshnessPolicy(s.config)]));
    const purger = createPurger({
      db,
      logger,
      policy: (source) => policies.get(source) as FreshnessPolicy,
      now: options.now ?? clock.now,
      forget: (source, ids) => served.get(source)?.freshness.forget(ids),
      pageGone: (source, id) => served.get(source)?.pageRepair.check(id),
      announce: announcePurged,
      observe: (by, how, entries) => metrics.observePurge(by, how, entries),
    });

    const retention = startRetention({
      db,
      logger,
      now: clock.now,
      outboxRetentionMs: config.mail.retentionMs,
      cooldownMs: config.mail.cooldownMs,
      // A recordless row is kept while any source may still serve it stale.
      maxStaleMs: Math.max(...sources.map((s) => s.config.entries.maxStaleMs)),
    });
    stops.push(async () => retention.stop());
    // One outbox reading serves a scrape's two gauges (and scrapes close together).
    const outboxReading = memoize(() => outboxStats(db, clock.now()), OUTBOX_READING_MS);
    history.watch({
      counts() {
        const c = sumCounters(all.map((s) => s.freshness.counters()));
        const r = c.refreshes;
        return { hit: c.hit, stale: c.stale, miss: c.miss, ok: r.ok, notModified: r['not-modified'], notFound: r['not-found'], invalid: r.invalid, failed: r.failed };
      },
      gauges() {
        const p = pool.stats();
        // The outbox is read from the database at most every OUTBOX_READING_MS; the last reading stands between.
        outboxReading().then(
          (o) => void (lastOutbox = { outboxUnsent: o.counts.pending + o.counts.sending, outboxOldest: o.oldestUnsentSeconds ?? 0 }),
          () => undefined,
        );
        return { queued: p.queued, busy: p.workers > 0 ? p.busyWorkers / p.workers : 0, ...lastOutbox, breakerOpen: all.filter((s) => s.freshness.upstream().state !== 'closed').length };
      },
    });
    stops.push(async () => history.stop());

    metrics.attach({
      sources: () => all.map((s) => ({ source: s.name, counters: s.freshness.counters() })),
      pool: () => pool.stats(),
      mailers: () => mailers.stats(),
      outbox: outboxReading,
      memoryEntries: () => all.reduce((n, s) => n + s.freshness.memoryEntries(), 0),
      upstreams: () => all.map((s) => s.freshness.upstream()),
      pages: () => added(all.map((s) => s.pages.counts() as unknown as Record<string, number>)),
      unexpected: () => unexpected?.counts() ?? {},
      databaseDown: () => database.down,
    });
    const accessLog = createAccessLog(config.logFile, (route, method, status, seconds) =>
      metrics.observeRequest(route, method, status, seconds),
    );
    stops.push(() => accessLog.close());

    let closing = false;
    const app = createApp({
      database,
      accessLog: accessLog.middleware,
      config,
      sources: all,
      purger,
      webhooks: createWebhooks({
        db,
        secrets: new Map(all.flatMap((s) => (s.config.webhookSecret === undefined ? [] : [[s.name, s.config.webhookSecret] as const]))),
        now: clock.now,
        observe: (outcome) => metrics.observeWebhook(outcome),
      }),
      logger,
      notifier,
      metrics: options.metricsText?.(metrics) ?? ownMetrics(metrics),
      admin: createAdminViews({ db, config, pool, sources: all, mailers, plotted: options.plotted?.(history) ?? ownPlots(history), deadLetters: createDeadLetters({ db, mailers, logger, now: clock.now }), now: clock.now }),
      readiness: {
        async check() {
          const checks: Record<string, string> = {};
          // Writes and reads by id may go different ways (SQLite's reader connections; a pooler): both must answer.
          checks.database = await Promise.all([ping(db), rows.all('select 1', [])]).then(
            () => 'ok',
            () => 'unreachable',
          );
          checks.pool = pool.stats().workers > 0 ? 'ok' : 'starting';
          checks.shutdown = closing ? 'in progress' : 'no';
          return { ready: checks.database === 'ok' && checks.pool === 'ok' && !closing, checks };
        },
      },
    });
    const handle = app.callback();
    const listener = entryListener({
      sources: all,
      accessLog,
      observe: (route, method, status, seconds) => metrics.observeRequest(route, method, status, seconds),
      next: (req, res) => void handle(req, res),
    });
    const server = createServer((req, res) => {
      // While stopping, no connection is kept for another request.
      if (closing) res.setHeader('Connection', 'close');
      listener(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    stops.push(async () => {
      // Not ready any more; take no new connections; let requests in flight
      // finish, and past SHUTDOWN_TIMEOUT_SECONDS cut their connections.
      closing = true;
      const mailersStopped = stopMailers();
      // Readers waiting on a refresh get their answer (503) before the cut.
      for (const s of all) s.freshness.drain(config.shutdownTimeoutMs * 0.8);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await closed;
      clearTimeout(cut);
      await mailersStopped;
    });
    const { address, port } = server.address() as AddressInfo;
    const host = address.includes(':') ? `[${address}]` : address;
    // Page upkeep starts once the server answers: a first index build or sweep does not hold up the start.
    for (const s of all) {
      void s.pageIndex.start(`http://${host}:${port}`, options.pageKeeper !== false).catch((err: unknown) => logger.error({ err, source: s.name }, 'the page index could not start'));
      if (options.pageKeeper !== false) s.pageRepair.start();
    }
    return { url: `http://${host}:${port}`, upstreamUrl: main.upstreamUrl, demo, freshness: main.freshness, sources: served, pool, mailers, server, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function ownPlots(history: History): () => Promise<Plotted> {
  return async () => ({ lastMinutes: history.lastMinutes(), lastHour: history.lastHour(), processes: 1 });
}

function ownMetrics(metrics: Metrics): MetricsText {
  return async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() });
}

/** The last answer of `read` while younger than `ms` (a failed read is not kept). */
function memoize<T>(read: () => Promise<T>, ms: number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const at = performance.now();
    if (!last || at - last.at >= ms) {
      const value = read();
      const entry = { at, value };
      last = entry;
      value.catch(() => {
        if (last === entry) last = undefined;
      });
    }
    return last.value;
  };
}
