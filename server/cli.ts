// The command line, loaded and run by the entry (main.ts): `node
// dist/server/main.js [--print-config]`. Reads the config once (a bad value:
// one line per problem, exit 2), starts the service — or, with
// WEB_CONCURRENCY > 1, a cluster of them — and stops it cleanly on
// SIGINT/SIGTERM (a second signal exits at once).
import cluster from 'node:cluster';
import { clusterHistory, clusterMetrics, PAGE_KEEPER_ENV, runPrimary, STOP } from './cluster.js';
import { describeConfig, loadConfigForCli, type Config } from './config/config.js';
import { sourcesOf } from './config/sources.js';
import { maskUrl } from '../shared/mask-url.js';
import type { Logger } from 'pino';
import { createLogger, writeBesideLog } from './log.js';
import { startService } from './service.js';
import { onStopSignals } from '../shared/stop-signals.js';

const USAGE = 'usage: freshen [--print-config] (settings come from environment variables; see README.md)';

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--print-config');
  if (argv.includes('--help') || unknown.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    return argv.includes('--help') ? 0 : 2;
  }
  const config = loadConfigForCli();
  if (!config) return 2;
  if (argv.includes('--print-config')) {
    for (const [name, value] of Object.entries(describeConfig(config))) {
      process.stdout.write(`${name}=${String(value)}\n`);
    }
    return 0;
  }

  const logger = createLogger(config);
  if (config.webConcurrency > 1 && cluster.isPrimary) {
    return runPrimary(config, logger, (url, demo) => {
      logger.info({ url, workers: config.webConcurrency }, `freshen listening on ${url}`);
      logSources(config, logger);
      if (demo) printTryLines(url, config, logger);
    });
  }
  // A cluster worker: the primary migrated the database and aggregates metrics.
  const inCluster = cluster.isWorker;
  // Heard from the first moment: a stop asked for while starting is not lost.
  let pending: string | undefined;
  let stop = (reason: string) => {
    if (pending !== undefined) {
      logger.warn({ signal: reason }, 'second signal while starting: exiting now');
      process.exit(1);
    }
    pending = reason;
  };
  if (inCluster) {
    // The primary decides; a worker left without it stops too.
    process.on('message', (m: { type?: string }) => m?.type === STOP && stop('primary'));
    process.on('disconnect', () => stop('primary gone'));
    // Its SIGINT and SIGTERM are kept by stop-signals (loaded first) and never taken.
  } else {
    onStopSignals((signal) => stop(signal));
  }

  const service = await startService(config, {
    logger,
    migrate: !inCluster,
    metricsText: inCluster ? (metrics) => clusterMetrics(metrics.registry) : undefined,
    plotted: inCluster ? (history) => clusterHistory(history) : undefined,
    watchUnexpected: true,
    pageKeeper: !inCluster || process.env[PAGE_KEEPER_ENV] === '1',
  });
  if (!inCluster && pending === undefined) {
    logger.info(
      { url: service.url, upstream: maskUrl(service.upstreamUrl), database: config.database.client },
      `freshen listening on ${service.url}`,
    );
    logSources(config, logger);
    if (service.demo) printTryLines(service.url, config, logger);
  }

  return new Promise<number>((resolve) => {
    let stopping = false;
    stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'stopping');
      service.close().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'stopping failed');
          resolve(1);
        },
      );
    };
    if (pending !== undefined) stop(pending);
  });
}

/** With SOURCES_FILE: one line naming each source, where it is served and what it asks. */
function logSources(config: Config, logger: Logger): void {
  if (config.sources === undefined) return;
  const sources = sourcesOf(config).map((s) => ({ name: s.name, path: s.path, upstream: s.config.upstream.url === undefined ? 'the demo upstream' : maskUrl(s.config.upstream.url) }));
  logger.info({ sources, file: config.sources.file }, `serving ${sources.length} sources: ${sources.map((s) => `${s.name} at ${s.path}`).join(', ')}`);
}

function printTryLines(url: string, config: Config, logger: Logger): void {
  // The demo serves the sources that name no upstream: the first of them is tried.
  const source = sourcesOf(config).find((s) => s.config.upstream.url === undefined) ?? sourcesOf(config)[0];
  const ttl = (source?.config ?? config).entries.ttlMs / 1000;
  const entries = `${url}${source?.path ?? '/entries'}`;
  writeBesideLog(
    logger,
    `
Serving the bundled demo upstream (1,200 entries, e0001 … e1200). Try:
  curl -si ${entries}/e0001                 # a miss: waits for the upstream  (Cache-Status: freshen; fwd=miss; stored)
  curl -si ${entries}/e0001                 # again: a hit from memory        (Cache-Status: freshen; hit; ttl=…)
  curl -si ${entries}/e0001                 # after ${ttl} s (ENTRY_TTL_SECONDS): stale, answered at once, refreshed behind
  curl -si ${entries}/e0013                 # invalid upstream data: 502 and a friendly page
  curl -si '${entries}?ids=e0001,e0002,e0003'
  curl -si ${entries}/e0001/related
  curl -si -H 'Accept: text/html' ${entries}/e0002

`,
  );
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`freshen: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
