// The Koa application: the access log, the hit path (which cannot fail), one
// middleware that turns every error into an answer (problem+json, or the
// friendly HTML page when the client prefers HTML), then the routes.
import Koa, { type Middleware } from 'koa';
import { Router } from '@koa/router';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { FreshenError, MethodNotAllowed, NotFound, toFreshenError } from './errors.js';
import type { Freshness } from '../freshness/freshness.js';
import { errorPage, HTML_HEADERS, wantsHtml } from './html-views.js';
import type { Notifier } from '../notices/notifier.js';
import type { AdminViews } from '../ops/admin-views.js';
import { adminRoutes } from './routes/admin.js';
import { entryHits, entryRoutes } from './routes/entries.js';
import { pageRoutes } from './routes/published-pages.js';
import { healthRoutes, type MetricsText, type Readiness } from './routes/health.js';
import { homeRoutes } from './routes/home.js';

export interface AppDeps {
  config: Config;
  freshness: Freshness;
  readiness: Readiness;
  metrics: MetricsText;
  notifier: Notifier;
  admin: AdminViews;
  logger: Logger;
  /** Outermost: the access log, which also gives each request its id. */
  accessLog?: Middleware;
}

export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  if (deps.accessLog) app.use(deps.accessLog);
  app.use(entryHits(deps));
  app.use(async (ctx, next) => {
    try {
      await next();
      if (ctx.body == null && ctx.status === 404) throw new NotFound('There is nothing here.');
      if (ctx.body == null && (ctx.status === 405 || ctx.status === 501)) {
        throw new MethodNotAllowed(ctx.response.get('Allow') || 'GET, HEAD');
      }
    } catch (err) {
      const error = toFreshenError(err);
      if (error.status >= 500 && !(err instanceof FreshenError)) {
        deps.logger.error({ err, method: ctx.method, url: ctx.url, requestId: ctx.state.requestId }, 'request failed');
        // Committed before the answer goes out: a crash after it loses nothing.
        await deps.notifier.serverError({ error: err, method: ctx.method, url: ctx.url });
      }
      writeError(ctx, error);
    }
  });

  const router = new Router();
  homeRoutes(router, deps);
  healthRoutes(router, deps.readiness, deps.metrics);
  entryRoutes(router, deps);
  adminRoutes(router, deps);
  pageRoutes(router, deps);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

function writeError(ctx: Koa.Context, error: FreshenError): void {
  ctx.status = error.status;
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  ctx.set('Cache-Control', 'no-store');
  ctx.remove('ETag');
  if (wantsHtml(ctx)) {
    ctx.set(HTML_HEADERS);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = errorPage(error.status, error.title, error.detail);
  } else {
    ctx.type = 'application/problem+json';
    ctx.body = JSON.stringify({
      type: `urn:freshen:problem:${error.code}`,
      title: error.title,
      status: error.status,
      detail: error.detail,
      instance: ctx.path,
      requestId: ctx.state.requestId as string | undefined,
    });
  }
}
