// The Koa application: the access log, the one place where errors become
// answers (respond-error.ts), then the routes. A JSON read of one entry is
// answered ahead of Koa (entry-listener.ts), which hands the rest here.
import Koa, { type Middleware } from 'koa';
import { Router } from '@koa/router';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Freshness } from '../freshness/freshness.js';
import type { Purger } from '../freshness/purge.js';
import type { Webhooks } from '../freshness/webhook.js';
import { respondError } from './respond-error.js';
import type { Notifier } from '../notices/notifier.js';
import type { AdminViews } from '../ops/admin-views.js';
import type { DatabaseWatch } from '../ops/database-watch.js';
import { adminRoutes } from './routes/admin.js';
import { entryRoutes } from './routes/entries.js';
import { pageRoutes } from './routes/published-pages.js';
import { healthRoutes, type MetricsText, type Readiness } from './routes/health.js';
import { homeRoutes } from './routes/home.js';
import { openapiRoutes } from './routes/openapi.js';
import { purgeRoutes } from './routes/purge.js';

/** A source as the routes see it: where it is served, its settings, its freshness check. */
export interface HttpSource {
  readonly name: string;
  readonly path: string;
  readonly pagesPath: string;
  readonly config: Config;
  readonly freshness: Freshness;
}

export interface AppDeps {
  config: Config;
  /** Every source, each served under its path. */
  sources: readonly HttpSource[];
  /** Purges, asked for by an operator or the upstream's webhook. */
  purger: Purger;
  webhooks: Webhooks;
  readiness: Readiness;
  metrics: MetricsText;
  notifier: Notifier;
  admin: AdminViews;
  /** Told when a request finds the database away. */
  database: DatabaseWatch;
  logger: Logger;
  /** Outermost: the access log, which also gives each request its id. */
  accessLog?: Middleware;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  // What reaches Koa's own handler is a client's doing (a request the parser
  // refuses, a connection dropped mid-answer): errors of ours are answered in
  // respondError. Koa would print these to stderr; they go to the log instead.
  app.on('error', (err: Error & { code?: string }) => deps.logger.debug({ why: err.message, code: err.code }, 'a client connection failed'));
  if (deps.accessLog) app.use(deps.accessLog);
  app.use(respondError(deps));

  const router = new Router();
  homeRoutes(router, deps);
  healthRoutes(router, deps.readiness, deps.metrics);
  for (const source of deps.sources) entryRoutes(router, deps, source);
  adminRoutes(router, deps);
  purgeRoutes(router, deps);
  // Other sources' pages (/pages/<name>/) before the default's, whose /pages/:file would take their names.
  for (const source of deps.sources.toSorted((a, b) => b.pagesPath.length - a.pagesPath.length)) pageRoutes(router, source);
  openapiRoutes(router, deps.sources);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
