// The one place where an error becomes an answer, as Koa's ctx.onerror is:
// whatever a request throws (or a route that matched nothing) is coerced once
// into a FreshenError and written as application/problem+json, or as the
// friendly HTML page for a client that prefers HTML. 5xx never show their
// message; an unexpected one is logged and the admins are told, before the
// answer is sent.
import type Koa from 'koa';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import type { Notifier } from '../notices/notifier.js';
import type { DatabaseWatch } from '../ops/database-watch.js';
import { cacheStatus } from './cache-status.js';
import { DatabaseUnavailable, FreshenError, MethodNotAllowed, NotFound, toFreshenError } from './errors.js';
import { errorPage, setHtml, wantsHtml } from './html-views.js';

export function respondError(deps: { logger: Logger; notifier: Notifier; database: DatabaseWatch }): Middleware {
  return async function onerror(ctx, next) {
    try {
      await next();
      if (ctx.body == null && ctx.status === 404) throw new NotFound('There is nothing here.');
      if (ctx.body == null && (ctx.status === 405 || ctx.status === 501)) {
        // The router answers 501 to a method it does not know even where no
        // route has the path (its Allow list is then empty): that is a 404.
        const allowed = ctx.response.get('Allow');
        ctx.remove('Allow');
        throw allowed ? new MethodNotAllowed(allowed) : new NotFound('There is nothing here.');
      }
    } catch (err) {
      const error = toFreshenError(err);
      if (error instanceof DatabaseUnavailable) {
        // Not a fault to mail about per request (and the outbox is in that
        // database): the watch logs the outage once and tells the admins when
        // it ends. A read that found it away (a FreshenError already) told it.
        if (!(err instanceof FreshenError)) deps.database.unavailable(err);
      } else if (error.status >= 500 && !(err instanceof FreshenError)) {
        deps.logger.error({ err, method: ctx.method, url: ctx.url, requestId: ctx.state.requestId }, 'request failed');
        // Committed before the answer goes out: a crash after it loses nothing.
        await deps.notifier.serverError({ error: err, method: ctx.method, url: ctx.url });
      }
      writeError(ctx, error);
    }
  };
}

function writeError(ctx: Koa.Context, error: FreshenError): void {
  ctx.status = error.status;
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  if (error.cache) {
    ctx.state.cache = error.cache;
    ctx.set('Cache-Status', cacheStatus(error.cache));
  }
  ctx.set('Cache-Control', 'no-store');
  ctx.remove('ETag');
  if (wantsHtml(ctx)) {
    setHtml(ctx, errorPage(error.status, error.title, error.detail));
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
