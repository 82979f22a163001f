// Prometheus metrics (prom-client): request durations, cache outcomes, refresh
// durations and outcomes, the updater pool, the outbox, and Node's own
// (event-loop delay, memory). Counters kept cheaply elsewhere (the freshness
// check's plain numbers) are mirrored at scrape time, so the hit path pays
// for one histogram observation and nothing more.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OutboxStats } from '../../db/outbox.js';
import type { MailerStats } from '../../workers/mail/launcher.js';
import type { PoolStats } from '../../workers/pool.js';
import { sumCounters, type FreshnessCounters } from '../freshness/freshness.js';
import type { BreakerCounters, BreakerView } from '../freshness/breaker.js';
import type { GateStats } from '../freshness/upstream-gate.js';

export interface MetricsSources {
  pool: () => PoolStats;
  mailers: () => MailerStats;
  outbox: () => Promise<OutboxStats>;
  /** Each source's counters (the unlabelled series add them up). */
  sources: () => Array<{ source: string; counters: FreshnessCounters }>;
  memoryEntries: () => number;
  /** Each source's upstream: its circuit breaker (server/freshness/breaker.ts) and caps. */
  upstreams: () => Array<BreakerView & BreakerCounters & { gate: GateStats }>;
  /** What became of published pages (server/publishing/page-publisher.ts). */
  pages: () => Record<string, number>;
  /** Errors nobody handled, caught by server/ops/unexpected.ts (where installed). */
  unexpected?: () => Record<string, number>;
  /** Is a database outage under way (server/ops/database-watch.ts)? */
  databaseDown?: () => boolean;
}

export interface Metrics {
  registry: Registry;
  observeRequest(route: string, method: string, status: number, seconds: number): void;
  observeRefresh(outcome: string, seconds: number): void;
  observePoolTask(kind: string, waitMs: number, runMs: number): void;
  /** A purge ended: who asked, soft or hard, how many entries it touched. */
  observePurge(by: string, how: 'soft' | 'hard', entries: number): void;
  /** A webhook call: taken, or why it was refused. */
  observeWebhook(outcome: string): void;
  /** Wire the live sources in (they exist only once the service is built). */
  attach(sources: MetricsSources): void;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  labels: { route: string; method: string; status: string };
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  counts: Float64Array;
  sum: number;
}

/**
 * The request-duration histogram, kept by hand and read by prom-client at
 * scrape time (its text format, its cluster aggregation). prom-client's own
 * observe() hashes the label set on every call: measured at ~6 µs of a ~100 µs
 * hit (bench, --cpu-prof); this one is a Map lookup and a short loop.
 */
function requestHistogram() {
  const name = 'freshen_http_request_duration_seconds';
  const help = 'Time to answer an HTTP request, by route and status.';
  const series: Series[] = [];
  // route → method → status → series: no key string is built per request.
  const index = new Map<string, Map<string, Map<number, Series>>>();
  const observe = (route: string, method: string, status: number, seconds: number): void => {
    let byMethod = index.get(route);
    if (!byMethod) index.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let s = byStatus.get(status);
    if (!s) {
      s = { labels: { route, method, status: String(status) }, counts: new Float64Array(LATENCY_BUCKETS.length + 1), sum: 0 };
      byStatus.set(status, s);
      series.push(s);
    }
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > (LATENCY_BUCKETS[i] as number)) i++;
    (s.counts as Float64Array)[i]! += 1;
    s.sum += seconds;
  };
  const values = () => {
    const out: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const { labels, counts, sum } of series) {
      let total = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        total += counts[i] as number;
        out.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: total });
      });
      total += counts[LATENCY_BUCKETS.length] as number;
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: total });
      out.push({ metricName: `${name}_sum`, labels, value: sum });
      out.push({ metricName: `${name}_count`, labels, value: total });
    }
    return out;
  };
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: values() }),
  } as unknown as Histogram;
  return { metric, observe };
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: '' });
  let sources: MetricsSources | undefined;

  const requests = requestHistogram();
  registry.registerMetric(requests.metric);

  const refreshes = new Histogram({
    name: 'freshen_refresh_duration_seconds',
    help: 'Time from handing a refresh to the pool to storing its outcome, by outcome.',
    labelNames: ['outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const poolWait = new Histogram({
    name: 'freshen_updater_task_wait_seconds',
    help: 'Time a pool task waited for a worker.',
    labelNames: ['kind'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const poolRun = new Histogram({
    name: 'freshen_updater_task_run_seconds',
    help: 'Time a pool task ran on its worker.',
    labelNames: ['kind'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  const purges = new Counter({
    name: 'freshen_purged_entries_total',
    help: 'Entries marked stale (soft) or dropped (hard) by purges, by who asked (admin, webhook).',
    labelNames: ['by', 'how'],
    registers: [registry],
  });
  const webhooks = new Counter({
    name: 'freshen_webhook_calls_total',
    help: 'Webhook calls, by outcome: taken, or refused (unsigned, bad-signature, out-of-window, replayed).',
    labelNames: ['outcome'],
    registers: [registry],
  });

  // Monotonic numbers counted elsewhere, exported as counters on each scrape:
  // `read` gives each series' label values and its total so far.
  function mirrorSeries(name: string, help: string, labelNames: string[], read: () => Iterable<[string[], number]>): void {
    const seen = new Map<string, number>();
    registry.registerMetric(
      new Counter({
        name,
        help,
        labelNames,
        registers: [],
        collect() {
          if (!sources) return;
          for (const [values, total] of read()) {
            const key = values.join('\u0000');
            const delta = total - (seen.get(key) ?? 0);
            if (delta > 0) this.labels(...values).inc(delta);
            seen.set(key, total);
          }
        },
      }),
    );
  }
  /** One label: its value → the total. */
  function mirror(name: string, help: string, label: string, read: () => Record<string, number>): void {
    mirrorSeries(name, help, [label], () => Object.entries(read()).map(([value, total]) => [[value], total]));
  }
  /** By source and outcome, from each source's counters. */
  function mirrorBySource(name: string, help: string, read: (c: FreshnessCounters) => Record<string, number>): void {
    mirrorSeries(name, help, ['source', 'outcome'], () =>
      (sources as MetricsSources).sources().flatMap(({ source, counters }) => Object.entries(read(counters)).map(([outcome, total]): [string[], number] => [[source, outcome], total])),
    );
  }
  mirror('freshen_cache_outcomes_total', 'Reads by cache outcome; refresh_skipped: a refresh shed because the pool was full (a stale read served without one, or a miss answered 503).', 'outcome', () => {
    const c = sumCounters((sources as MetricsSources).sources().map((s) => s.counters));
    return { hit: c.hit, stale: c.stale, miss: c.miss, collapsed: c.collapsed, refresh_skipped: c.refreshSkipped };
  });
  mirror('freshen_refreshes_total', 'Refreshes by outcome.', 'outcome', () => ({ ...sumCounters((sources as MetricsSources).sources().map((s) => s.counters)).refreshes }));
  // The same two, by source.
  mirrorBySource('freshen_source_reads_total', 'Reads by source and cache outcome (the sum is freshen_cache_outcomes_total).', (c) => ({
    hit: c.hit,
    stale: c.stale,
    miss: c.miss,
  }));
  mirrorBySource('freshen_source_refreshes_total', 'Refreshes by source and outcome (the sum is freshen_refreshes_total).', (c) => ({ ...c.refreshes }));
  mirror('freshen_updater_tasks_stopped_total', 'Pool tasks given up at UPDATER_TASK_TIMEOUT_MS, workers killed for them, and workers that died idle.', 'what', () => {
    const s = (sources as MetricsSources).pool();
    return { abandoned: s.abandoned, worker_killed: s.killed, worker_died_idle: s.idleDeaths };
  });

  mirror(
    'freshen_pages_total',
    'Published pages: written after a refresh, after a 304 (missing or of another version here), by the repair; removed; left as they were; not written (tried again later).',
    'event',
    () => (sources as MetricsSources).pages(),
  );
  mirror('freshen_unexpected_errors_total', 'Unhandled rejections and uncaught exceptions, logged and served on.', 'kind', () => (sources as MetricsSources).unexpected?.() ?? {});

  mirror('freshen_upstream_breaker_transitions_total', "The upstream breaker's transitions seen by this process: opened, reopened (a probe failed), closed (a probe succeeded).", 'to', () => ({
    ...added((sources as MetricsSources).upstreams().map((u) => u.transitions)),
  }));
  mirror('freshen_upstream_breaker_refreshes_total', 'Refreshes held (not sent: the breaker was open) and probes sent by this process.', 'what', () => {
    return added((sources as MetricsSources).upstreams().map((u) => ({ held: u.held, probe: u.probes })));
  });

  mirror(
    'freshen_upstream_capped_total',
    'Refreshes UPSTREAM_MAX_CONCURRENCY or UPSTREAM_MAX_RPS turned away: misses answered 503 after their wait, background refreshes dropped.',
    'priority',
    () => added((sources as MetricsSources).upstreams().map((u) => u.gate.refused)),
  );

  function gauge(name: string, help: string, aggregator: 'sum' | 'max' | 'average', read: (g: Gauge) => void | Promise<void>, labelNames: string[] = []): void {
    registry.registerMetric(
      new Gauge({
        name,
        help,
        labelNames,
        aggregator,
        registers: [],
        async collect() {
          if (sources) await read(this);
        },
      }),
    );
  }
  gauge('freshen_updater_workers', 'Updater workers alive.', 'sum', (g) => g.set((sources as MetricsSources).pool().workers));
  gauge('freshen_updater_busy_workers', 'Updater workers running a task now.', 'sum', (g) => g.set((sources as MetricsSources).pool().busyWorkers));
  gauge('freshen_updater_queue_depth', 'Pool tasks waiting for a worker.', 'sum', (g) => g.set((sources as MetricsSources).pool().queued));
  gauge('freshen_updater_in_flight', 'Pool tasks handed in and not answered yet.', 'sum', (g) => g.set((sources as MetricsSources).pool().inFlight));
  gauge('freshen_updater_max_queue', 'UPDATER_MAX_QUEUE: refreshes past it are shed (a miss answered 503).', 'max', (g) => g.set((sources as MetricsSources).pool().maxQueue));
  gauge('freshen_database_unavailable', '1 while requests find the database away (from the first that does until a ping answers), else 0.', 'max', (g) =>
    g.set((sources as MetricsSources).databaseDown?.() ? 1 : 0),
  );
  gauge('freshen_updater_background_waiting', 'Background tasks (pages, the index) waiting for a worker slot that refreshes leave free.', 'sum', (g) =>
    g.set((sources as MetricsSources).pool().backgroundWaiting),
  );
  gauge('freshen_updater_utilization', 'Busy worker time over worker time since start (0..1).', 'average', (g) => g.set((sources as MetricsSources).pool().utilization));
  gauge('freshen_memory_tier_entries', 'Entries held in the memory tier.', 'sum', (g) => g.set((sources as MetricsSources).memoryEntries()));
  // Every node reads the fleet's one state: across a cluster, not a sum.
  gauge(
    'freshen_upstream_breaker_open',
    'The upstream breaker: 1 open (no refresh is sent but the probe), 0 closed.',
    'max',
    (g) => {
      for (const u of (sources as MetricsSources).upstreams()) g.labels(u.origin).set(u.state === 'closed' ? 0 : 1);
    },
    ['origin'],
  );
  gauge('freshen_upstream_in_flight', 'Upstream requests this process has in flight (at most UPSTREAM_MAX_CONCURRENCY).', 'sum', (g) =>
    g.set((sources as MetricsSources).upstreams().reduce((n, u) => n + u.gate.inFlight, 0)),
  );
  gauge(
    'freshen_upstream_waiting',
    'Refreshes waiting for the upstream caps, by priority (misses go first).',
    'sum',
    (g) => {
      for (const [priority, n] of Object.entries(added((sources as MetricsSources).upstreams().map((u) => u.gate.waiting)))) g.labels(priority).set(n);
    },
    ['priority'],
  );
  gauge('freshen_mailers_running', 'Mailer child processes running.', 'sum', (g) => g.set((sources as MetricsSources).mailers().running));
  // Every process reads the same outbox: across a cluster, take one reading, not the sum.
  gauge(
    'freshen_outbox_messages',
    'Outbox messages by state.',
    'max',
    async (g) => {
      const { counts } = await (sources as MetricsSources).outbox();
      for (const [state, n] of Object.entries(counts)) g.labels(state).set(n);
    },
    ['state'],
  );
  gauge('freshen_outbox_oldest_unsent_seconds', 'Age of the oldest message not sent yet (0: none).', 'max', async (g) => {
    g.set((await (sources as MetricsSources).outbox()).oldestUnsentSeconds ?? 0);
  });

  return {
    registry,
    observeRequest: requests.observe,
    observeRefresh: (outcome, seconds) => refreshes.labels(outcome).observe(seconds),
    observePoolTask(kind, waitMs, runMs) {
      poolWait.labels(kind).observe(waitMs / 1000);
      poolRun.labels(kind).observe(runMs / 1000);
    },
    observePurge: (by, how, entries) => purges.labels(by, how).inc(entries),
    observeWebhook: (outcome) => webhooks.labels(outcome).inc(),
    attach(s) {
      sources = s;
    },
  };
}

/** Counts by the same keys, added up. */
export function added(list: ReadonlyArray<Readonly<Record<string, number>>>): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const r of list) for (const [k, v] of Object.entries(r)) sum[k] = (sum[k] ?? 0) + v;
  return sum;
}
