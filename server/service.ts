// Wires one freshen process together: database (migrated), updater pool,
// freshness check, Koa app, HTTP server — and the demo upstream when
// UPSTREAM_URL is unset. close() stops them in reverse order.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { openDatabase, ping, type Knex } from '../db/knex.js';
import { migrate } from '../db/migrate.js';
import { listMessages, outboxStats } from '../db/outbox.js';
import { startDemoUpstream, type DemoUpstream } from '../demo/server.js';
import { createMailers, type Mailers } from '../workers/mailers.js';
import { createUpdaterPool, type UpdaterPool } from '../workers/pool.js';
import { createAccessLog } from './access-log.js';
import { createApp } from './app.js';
import type { Config } from './config.js';
import { createFreshness, type Freshness } from './freshness.js';
import { createLogger } from './log.js';
import { createNotifier } from './notifier.js';
import { createPageIndex } from './page-index.js';

export interface Service {
  /** http://host:port of the listening server. */
  url: string;
  /** The URL template the updater fetches. */
  upstreamUrl: string;
  demo: DemoUpstream | undefined;
  freshness: Freshness;
  pool: UpdaterPool;
  mailers: Mailers;
  server: Server;
  close(): Promise<void>;
}

export interface ServiceOptions {
  logger?: Logger;
  /** The clock, in ms since the epoch; tests pass their own. */
  now?: () => number;
  /** The updater's task module; tests swap in one that misbehaves on purpose. */
  updaterModule?: URL;
}

export async function startService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? createLogger(config);
  const stops: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const stop of stops.splice(0).toReversed()) await stop();
  };
  try {
    let demo: DemoUpstream | undefined;
    let upstreamUrl = config.upstream.url;
    if (upstreamUrl === undefined) {
      demo = await startDemoUpstream({ latencyMs: config.demo.latencyMs, failureRate: config.demo.failureRate });
      stops.push(() => (demo as DemoUpstream).close());
      upstreamUrl = demo.url;
    }

    const db: Knex = openDatabase(config.database);
    stops.push(() => db.destroy());
    await migrate(db);

    const mailers = createMailers({ config, db, logger });
    stops.push(() => mailers.stop());
    const notifier = createNotifier({ db, config, mailers, logger });
    // Messages left by an earlier run (or a killed mailer) go out now.
    void mailers.sweep();

    const pool = createUpdaterPool({ ...config.updater, taskModule: options.updaterModule });
    stops.push(() => pool.close());
    const pageIndex = createPageIndex({ db, pool, config, logger });
    stops.push(() => pageIndex.close());
    pageIndex.changed();

    const freshness = createFreshness({
      db,
      pool,
      config,
      upstreamUrl,
      logger,
      notifier,
      published: () => pageIndex.changed(),
      now: options.now,
    });
    stops.push(() => freshness.close());

    const accessLog = createAccessLog(config.logFile);
    stops.push(() => accessLog.close());

    let closing = false;
    const app = createApp({
      accessLog: accessLog.middleware,
      config,
      freshness,
      logger,
      notifier,
      admin: {
        async outbox() {
          return {
            ...(await outboxStats(db, Date.now())),
            mailers: mailers.stats(),
            recent: (await listMessages(db, 20)).map((m) => ({
              id: m.id,
              kind: m.kind,
              state: m.state,
              subject: m.subject,
              attempts: m.attempts,
              createdAt: new Date(m.createdAt).toISOString(),
              sentAt: m.sentAt === null ? null : new Date(m.sentAt).toISOString(),
              lastError: m.lastError,
            })),
          };
        },
      },
      readiness: {
        async check() {
          const checks: Record<string, string> = {};
          checks.database = await ping(db).then(
            () => 'ok',
            () => 'unreachable',
          );
          checks.pool = pool.stats().workers > 0 ? 'ok' : 'starting';
          checks.shutdown = closing ? 'in progress' : 'no';
          return { ready: checks.database === 'ok' && checks.pool === 'ok' && !closing, checks };
        },
      },
    });
    const server = createServer(app.callback());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
    stops.push(async () => {
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    });
    const { address, port } = server.address() as AddressInfo;
    const host = address.includes(':') ? `[${address}]` : address;
    return { url: `http://${host}:${port}`, upstreamUrl, demo, freshness, pool, mailers, server, close };
  } catch (err) {
    await close();
    throw err;
  }
}
