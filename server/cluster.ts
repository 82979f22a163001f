// WEB_CONCURRENCY > 1: N Koa processes under node:cluster. The primary
// migrates the database once, starts the demo upstream if one is needed, forks
// the workers (each with its own updater pool; single flight across them is the
// database lease), replaces a worker that dies — unless they keep dying — and
// answers the workers' requests for cluster-wide metrics (prom-client's
// AggregatorRegistry). A stop signal is passed to every worker, which stops
// gracefully; a second one kills them.
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { migrateDatabase } from '../db/migrate.js';
import { startDemoUpstream, type DemoUpstream } from '../demo/server.js';
import type { Config } from './config/config.js';
import { sourcesOf } from './config/sources.js';
import { onStopSignals } from '../shared/stop-signals.js';
import type { MetricsText } from './http/routes/health.js';
import { mergeHistories, type History, type Plotted } from './ops/history.js';

const METRICS_REQUEST = 'freshen:metrics-request';
/** The primary tells a worker to stop (again: at once) by message, not signal. */
export const STOP = 'freshen:stop';
const METRICS_RESPONSE = 'freshen:metrics-response';
/**
 * The one worker that builds the page index and sweeps the pages (they share
 * PUBLISH_DIR): the primary sets this in its environment, and in that of its
 * replacement.
 */
export const PAGE_KEEPER_ENV = 'FRESHEN_PAGE_KEEPER';
/** A worker stored an entry (SQLite has no LISTEN): the primary passes it to the other workers. */
export const STORED = 'freshen:stored';

/** A worker purged a batch of entries (SQLite): the primary passes it on likewise. */
export const PURGED = 'freshen:purged';

export type StoredMessage = { type: typeof STORED; source: string; id: string } | { type: typeof PURGED; source: string; ids: string[]; hard: boolean };
/** The status page's plots of the whole node: a worker asks, the primary gathers every worker's. */
const HISTORY_REQUEST = 'freshen:history-request';
const HISTORY_COLLECT = 'freshen:history-collect';
const HISTORY_PART = 'freshen:history-part';
const HISTORY_RESPONSE = 'freshen:history-response';
/** How long the primary waits for every worker's history (a busy or dying one is left out). */
const HISTORY_WAIT_MS = 2000;

interface HistoryMessage {
  type: typeof HISTORY_REQUEST | typeof HISTORY_COLLECT | typeof HISTORY_PART | typeof HISTORY_RESPONSE;
  id: number;
  plotted?: Plotted;
}

/** More deaths than this many per worker within a minute: stop replacing them. */
const MAX_DEATHS_PER_WORKER_PER_MINUTE = 3;

interface MetricsMessage {
  type: typeof METRICS_REQUEST | typeof METRICS_RESPONSE;
  id: number;
  contentType?: string;
  body?: string;
  error?: string;
}

/**
 * Workers ignore signals (a terminal's Ctrl-C reaches the whole group): the
 * primary tells them to stop by message.
 */
function stopAll(): void {
  for (const w of Object.values(cluster.workers ?? {})) w?.send({ type: STOP });
}

export async function runPrimary(config: Config, logger: Logger, onListening: (url: string, demo: boolean) => void): Promise<number> {
  // Heard from the first moment: a stop asked for while migrating is not lost.
  let stopping = false;
  let exitCode = 0;
  let onStopped: (() => void) | undefined;
  const finishIfNoneLeft = () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) onStopped?.();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: killing the workers');
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping the cluster');
    stopAll();
    finishIfNoneLeft();
  };
  onStopSignals(onSignal);

  await migrateDatabase(config.database);
  let demo: DemoUpstream | undefined;
  const env: Record<string, string> = {};
  // The workers' sources that name no upstream URL (none in SOURCES_FILE, UPSTREAM_URL unset) share one demo upstream.
  if (sourcesOf(config).some((s) => s.config.upstream.url === undefined)) {
    demo = await startDemoUpstream({ latencyMs: config.demo.latencyMs, failureRate: config.demo.failureRate });
    env.UPSTREAM_URL = demo.url;
  }

  const aggregator = new AggregatorRegistry();
  const deaths: number[] = [];
  let announced = false;

  let keeper: Worker | undefined;
  const fork = (asKeeper: boolean) => {
    const worker = cluster.fork(asKeeper ? { ...env, [PAGE_KEEPER_ENV]: '1' } : env);
    if (asKeeper) keeper = worker;
  };
  cluster.on('listening', (worker, address) => {
    logger.info({ workerPid: worker.process.pid }, 'cluster worker listening');
    // It may have missed the word to stop, sent while it was starting.
    if (stopping) worker.send({ type: STOP });
    if (!announced && !stopping) {
      announced = true;
      onListening(`http://${address.address ?? config.host}:${address.port}`, demo !== undefined);
    }
  });
  // History requests under way: the asking worker, the parts so far, and who has not answered.
  let nextCollect = 0;
  const collecting = new Map<number, { asker: Worker; askerId: number; parts: Plotted[]; missing: Set<Worker>; timer: NodeJS.Timeout }>();
  const answerHistory = (key: number) => {
    const c = collecting.get(key);
    if (!c) return;
    collecting.delete(key);
    clearTimeout(c.timer);
    c.asker.send({ type: HISTORY_RESPONSE, id: c.askerId, plotted: mergeHistories(c.parts) } satisfies HistoryMessage);
  };
  cluster.on('message', (worker: Worker, message: MetricsMessage | StoredMessage | HistoryMessage) => {
    if (message?.type === HISTORY_REQUEST) {
      const key = ++nextCollect;
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      collecting.set(key, { asker: worker, askerId: message.id, parts: [], missing: new Set(workers), timer: setTimeout(() => answerHistory(key), HISTORY_WAIT_MS) });
      for (const w of workers) w.send({ type: HISTORY_COLLECT, id: key } satisfies HistoryMessage);
      return;
    }
    if (message?.type === HISTORY_PART) {
      const c = collecting.get(message.id);
      if (!c || !message.plotted) return;
      c.parts.push(message.plotted);
      c.missing.delete(worker);
      if (c.missing.size === 0) answerHistory(message.id);
      return;
    }
    if (message?.type === STORED || message?.type === PURGED) {
      // A worker stored (or purged) entries: the others drop their memory copies.
      for (const other of Object.values(cluster.workers ?? {})) if (other && other !== worker) other.send(message);
      return;
    }
    if (message?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (body) => worker.send({ type: METRICS_RESPONSE, id: message.id, body, contentType: aggregator.contentType }),
      (err: Error) => worker.send({ type: METRICS_RESPONSE, id: message.id, error: err.message }),
    );
  });

  return new Promise<number>((resolve) => {
    onStopped = () => {
      // A demo upstream that fails to close does not keep the primary from exiting.
      void (demo ? demo.close() : Promise.resolve()).catch(() => undefined).then(() => resolve(exitCode));
    };
    const giveUp = (why: string, fields: object) => {
      logger.fatal(fields, why);
      exitCode = 1;
      stopping = true;
      stopAll();
      finishIfNoneLeft();
    };
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return finishIfNoneLeft();
      if (!announced) {
        // Not one worker came up (a port in use, say): another would fail alike.
        giveUp('a cluster worker failed to start; stopping', { workerPid: worker.process.pid, code, signal });
        return;
      }
      const now = Date.now();
      deaths.push(now);
      while ((deaths[0] ?? now) < now - 60_000) deaths.shift();
      if (deaths.length > MAX_DEATHS_PER_WORKER_PER_MINUTE * config.webConcurrency) {
        giveUp('cluster workers keep dying; stopping', { deaths: deaths.length });
        return;
      }
      logger.error({ workerPid: worker.process.pid, code, signal }, 'cluster worker died; starting another');
      fork(worker === keeper);
    });
    if (stopping) {
      // Stopped before any worker was started.
      onStopped?.();
      return;
    }
    for (let i = 0; i < config.webConcurrency; i++) fork(i === 0);
    logger.info({ workers: config.webConcurrency }, 'cluster started');
  });
}

/**
 * In a cluster worker: make this process's registry answer the primary's
 * aggregation, and return what /metrics answers — the whole cluster's metrics.
 */
export function clusterMetrics(registry: Registry): MetricsText {
  AggregatorRegistry.setRegistries([registry]);
  // Constructing one installs prom-client's answer to the primary's requests.
  new AggregatorRegistry(); // oxlint-disable-line no-new
  let nextId = 0;
  const waiting = new Map<number, (m: MetricsMessage) => void>();
  process.on('message', (message: MetricsMessage) => {
    if (message?.type === METRICS_RESPONSE) waiting.get(message.id)?.(message);
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the cluster primary did not answer for metrics'));
      }, 10_000);
      waiting.set(id, (m) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (m.error !== undefined || m.body === undefined) reject(new Error(m.error ?? 'no metrics'));
        else resolve({ contentType: m.contentType ?? 'text/plain', body: m.body });
      });
      process.send?.({ type: METRICS_REQUEST, id });
    });
}

/**
 * In a cluster worker on SQLite: tell the other workers (through the primary)
 * what this one stored, and hear what they stored. Postgres tells every
 * process itself (LISTEN), so this is for SQLite alone.
 */
export function clusterStores(heard: { stored: (source: string, id: string) => void; purged: (source: string, ids: string[], hard: boolean) => void }): {
  stored: (source: string, id: string) => void;
  purged: (source: string, ids: readonly string[], hard: boolean) => void;
} {
  process.on('message', (message: StoredMessage) => {
    if (message?.type === STORED) heard.stored(message.source, message.id);
    else if (message?.type === PURGED) heard.purged(message.source, message.ids, message.hard);
  });
  return {
    stored: (source, id) => void process.send?.({ type: STORED, source, id } satisfies StoredMessage),
    purged: (source, ids, hard) => void process.send?.({ type: PURGED, source, ids: [...ids], hard } satisfies StoredMessage),
  };
}

/**
 * In a cluster worker: answer the primary's collection with this worker's
 * history, and return what the status page plots — the whole node's, every
 * worker's merged (this worker's alone if the primary does not answer).
 */
export function clusterHistory(own: History): () => Promise<Plotted> {
  let nextId = 0;
  const waiting = new Map<number, (plotted: Plotted) => void>();
  process.on('message', (message: HistoryMessage) => {
    if (message?.type === HISTORY_COLLECT) {
      process.send?.({ type: HISTORY_PART, id: message.id, plotted: { lastMinutes: own.lastMinutes(), lastHour: own.lastHour(), processes: 1 } } satisfies HistoryMessage);
    } else if (message?.type === HISTORY_RESPONSE && message.plotted) {
      waiting.get(message.id)?.(message.plotted);
    }
  });
  return () =>
    new Promise((resolve) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve({ lastMinutes: own.lastMinutes(), lastHour: own.lastHour(), processes: 1 });
      }, HISTORY_WAIT_MS * 2);
      waiting.set(id, (plotted) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(plotted);
      });
      process.send?.({ type: HISTORY_REQUEST, id } satisfies HistoryMessage);
    });
}
