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

export interface AppDeps {
  config: Config;
  freshness: Freshness;
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
  entryRoutes(router, deps);
  adminRoutes(router, deps);
  purgeRoutes(router, deps);
  pageRoutes(router, deps);
  openapiRoutes(router);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
