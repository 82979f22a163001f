// The access log: one JSON line per request (time, method, path, status,
// duration, cache outcome, request id) written to LOG_FILE by pino's
// worker-thread transport, so the thread answering requests never waits on
// the disk. Also gives every request an id: X-Request-Id if sane, else new.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Middleware } from 'koa';
import { pino, type Logger } from 'pino';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// The outcome word of a Cache-Status value: "freshen; fwd=stale; ttl=-3" → "stale".
const OUTCOME = /; (hit|fwd=(stale|miss))(?:;|$)/;

export interface AccessLog {
  middleware: Middleware;
  /** Flush and stop the writer thread. */
  close(): Promise<void>;
}

export type RequestObserver = (route: string, method: string, status: number, seconds: number) => void;

export function createAccessLog(file: string, observe?: RequestObserver): AccessLog {
  mkdirSync(dirname(file), { recursive: true });
  const transport = pino.transport({ target: 'pino/file', options: { destination: file, mkdir: true } });
  // The pid tells which process answered, under a cluster.
  const log: Logger = pino({ base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, transport);

  const middleware: Middleware = async (ctx, next) => {
    const started = performance.now();
    const given = ctx.get('X-Request-Id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const seconds = (performance.now() - started) / 1000;
      // The route pattern (@koa/router sets it), so ids do not explode the label set.
      observe?.((ctx as { routerPath?: string }).routerPath ?? 'unmatched', ctx.method, ctx.status, seconds);
      const cacheStatus = (ctx.response.get('Cache-Status') as string | undefined) ?? '';
      const match = OUTCOME.exec(cacheStatus);
      log.info({
        method: ctx.method,
        path: ctx.path,
        status: ctx.status,
        durationMs: Math.round(seconds * 1e6) / 1000,
        cache: match ? (match[2] ?? match[1]) : undefined,
        collapsed: cacheStatus.includes('collapsed') || undefined,
        requestId,
      });
    }
  };

  return {
    middleware,
    close: () =>
      new Promise<void>((resolve) => {
        transport.once('close', () => resolve());
        transport.end();
      }),
  };
}
