// The access log: one JSON line per request (time, method, path, status,
// duration, cache outcome, request id, pid) written to LOG_FILE by pino's
// worker-thread transport (pino/file), so the thread answering requests never
// waits on the disk. Also gives every request an id: X-Request-Id if sane,
// else a new one.
//
// Measured on the hit path (bench): a pino logger call per request cost a
// third of the throughput. So the line is built here (its fields are few and
// known), and lines are handed to the transport in batches: each hand-off
// wakes the writer thread (a futex call), which cost a sixth of a hit's CPU
// when done once per event-loop turn. The writer thread buffers them into
// large file writes.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Middleware } from 'koa';
import { pino } from 'pino';
import type { CacheOutcome } from '../freshness/freshness.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// Flushing the writer thread's buffer to the file at least this often.
const FLUSH_MS = 250;
// Lines wait this long, or until this many bytes are pending, before the hand-off.
const BATCH_MS = 100;
const BATCH_BYTES = 256 * 1024;

/** One request, as the log line tells it. */
export interface AccessRecord {
  method: string;
  path: string;
  status: number;
  /** From the request's arrival to its answer. */
  micros: number;
  requestId: string;
  /** How the freshness check served or refused it, when it was asked. */
  cache: CacheOutcome | undefined;
  /** The source whose entries it read, when it read any. */
  source?: string;
}

export interface AccessLog {
  /** Gives each request its id, and logs it once answered (the route's outcome from ctx.state.cache). */
  middleware: Middleware;
  /** Log one request answered outside Koa (the entry listener). */
  record(request: AccessRecord): void;
  /** A request's id: the client's X-Request-Id if sane, else a new one. */
  requestId(given: string | string[] | undefined): string;
  /** Flush and stop the writer thread. */
  close(): Promise<void>;
}

export type RequestObserver = (route: string, method: string, status: number, seconds: number) => void;

/** Microseconds as milliseconds with three decimals, by integer arithmetic (a float's formatting costs more). */
function millis(micros: number): string {
  const frac = micros % 1000;
  return `${(micros - frac) / 1000}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

export function createAccessLog(
  file: string,
  observe?: RequestObserver,
  onError: (err: Error) => void = (err) => process.stderr.write(`access log: ${err.message}\n`),
): AccessLog {
  mkdirSync(dirname(file), { recursive: true });
  const transport = pino.transport({
    target: 'pino/file',
    options: { destination: file, mkdir: true, minLength: 8192, periodicFlush: FLUSH_MS },
  });
  // A log that cannot be written must not take the service down with it.
  transport.on('error', (err: Error) => onError(err));
  const head = `{"level":30,"pid":${process.pid},"time":"`;
  let pending = '';
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    // Past close, only requests cut off at the shutdown bound still end: their lines are dropped.
    if (pending === '' || closed) return;
    transport.write(pending);
    pending = '';
  };
  // The ISO time string changes once a millisecond at most: make it once.
  let lastMs = 0;
  let lastIso = '';
  // A new request id is this process's random prefix and a count: unique
  // across processes and restarts, with no random bytes drawn per request.
  const idPrefix = `${randomBytes(9).toString('base64url')}-`;
  let idCount = 0;

  const requestIdOf = (given: string | string[] | undefined): string =>
    typeof given === 'string' && REQUEST_ID.test(given) ? given : idPrefix + (++idCount).toString(36);

  // A line is made from the request's record alone, with no Koa context.
  function record(r: AccessRecord): void {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastIso = new Date(now).toISOString();
    }
    const cache = r.cache === undefined ? '' : `,"cache":"${r.cache.kind}"${r.cache.collapsed ? ',"collapsed":true' : ''}`;
    // A source's name is [a-z0-9-] (server/config/sources.ts): no escaping needed.
    const source = r.source === undefined ? '' : `,"source":"${r.source}"`;
    pending += `${head}${lastIso}","method":"${r.method}","path":${JSON.stringify(r.path)},"status":${r.status},"durationMs":${millis(r.micros)}${source}${cache},"requestId":"${r.requestId}"}\n`;
    if (pending.length >= BATCH_BYTES) flush();
    // Unref'd: pending lines never keep the process alive (close() flushes them).
    else timer ??= setTimeout(flush, BATCH_MS).unref();
  }

  const middleware: Middleware = async (ctx, next) => {
    // A request the entry listener handed on came earlier: its time counts from then.
    const started = (ctx.req as { freshenStartedAt?: number }).freshenStartedAt ?? performance.now();
    const requestId = requestIdOf(ctx.req.headers['x-request-id']);
    ctx.state.requestId = requestId;
    ctx.res.setHeader('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const micros = Math.round((performance.now() - started) * 1000);
      // The route pattern (@koa/router sets it), so ids do not explode the label set.
      observe?.((ctx as { routerPath?: string }).routerPath ?? 'unmatched', ctx.method, ctx.status, micros / 1e6);
      const { cache, source } = ctx.state as { cache?: CacheOutcome; source?: string };
      record({ method: ctx.method, path: ctx.path, status: ctx.status, micros, requestId, cache, source });
    }
  };

  return {
    middleware,
    record,
    requestId: requestIdOf,
    close: () =>
      new Promise<void>((resolve) => {
        flush();
        closed = true;
        transport.once('close', () => resolve());
        transport.end();
      }),
  };
}
