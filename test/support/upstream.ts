// A programmable upstream on loopback for tests: per-id answers (record,
// status, raw body, delay, hang, redirect, endless stream, a connection reset)
// and per-id request
// counts, so tests can prove exactly how many requests freshen made.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BUNDLED_SCHEMA } from '../../server/config/config.js';
import type { RefreshTask } from '../../workers/protocol.js';

export type Behaviour =
  /**
   * `headers` go with the record (Cache-Control, say); with `etag`, it is sent
   * as the ETag, and a request whose If-None-Match names it is answered 304.
   */
  /** `until`: answered only once it settles (the test says when). */
  | { record: unknown; delayMs?: number; headers?: Record<string, string>; etag?: string; until?: Promise<void> }
  | { status: number; body?: string; delayMs?: number; headers?: Record<string, string> }
  | { hang: true }
  | { stream: { chunkBytes: number; chunks: number; intervalMs: number } }
  /** The connection reset (TCP RST): before any answer, or after `bodyBytes` of a record's body. */
  | { reset: { bodyBytes?: number; record?: unknown } };

export interface TestUpstream {
  /** URL template, http://127.0.0.1:PORT/items/{id} */
  url: string;
  origin: string;
  set(id: string, behaviour: Behaviour): void;
  /** Requests per id (decoded path segment), and the total. */
  count(id: string): number;
  /** The requests of this id answered 304. */
  notModified(id: string): number;
  total(): number;
  /** Paths of every request, in order. */
  paths: string[];
  /** When each request arrived (performance.now() of this process), in the order of `paths`. */
  arrivals: number[];
  /** The headers of the last request for this id. */
  headersOf(id: string): Record<string, string | string[] | undefined> | undefined;
  /** Release every held (hang) request with a 503. */
  releaseHeld(): void;
  /** Chunks written by stream behaviours before the client went away. */
  streamedChunks(id: string): number;
  /** Client connections open now (kept-alive ones included). */
  openConnections(): number;
  /** The most requests it was answering at once since start (or the last reset). */
  mostAtOnce(): number;
  resetMostAtOnce(): void;
  close(): Promise<void>;
}

function delay(ms: number | undefined, fn: () => void): void {
  if (ms) setTimeout(fn, ms);
  else fn();
}

/** `host`: where it listens (127.0.0.1; a fleet test's bridge address for nodes in namespaces). */
export async function startTestUpstream(options: { keepAliveMs?: number; host?: string } = {}): Promise<TestUpstream> {
  const host = options.host ?? '127.0.0.1';
  const behaviours = new Map<string, Behaviour>();
  const counts = new Map<string, number>();
  const notModified = new Map<string, number>();
  const streamed = new Map<string, number>();
  const held = new Set<ServerResponse>();
  const paths: string[] = [];
  const arrivals: number[] = [];
  const lastHeaders = new Map<string, Record<string, string | string[] | undefined>>();
  let total = 0;

  let atOnce = 0;
  let most = 0;
  const server = createServer((req, res) => {
    atOnce++;
    most = Math.max(most, atOnce);
    res.once('close', () => atOnce--);
    paths.push(req.url ?? '');
    arrivals.push(performance.now());
    const match = /^\/items\/([^/?]+)/.exec(req.url ?? '');
    const id = match ? decodeURIComponent(match[1] as string) : '';
    total++;
    counts.set(id, (counts.get(id) ?? 0) + 1);
    lastHeaders.set(id, req.headers);
    const b = behaviours.get(id);
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    if (!b) return send(404, '{"error":"not found"}');
    if ('hang' in b) {
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    if ('stream' in b) {
      const { chunkBytes, chunks, intervalMs } = b.stream;
      res.writeHead(200, { 'content-type': 'application/json' });
      let written = 0;
      const chunk = Buffer.alloc(chunkBytes, 0x20);
      const timer = setInterval(() => {
        if (written >= chunks || res.destroyed) {
          clearInterval(timer);
          res.end();
          return;
        }
        res.write(chunk);
        written++;
        streamed.set(id, written);
      }, intervalMs);
      res.on('close', () => clearInterval(timer));
      return;
    }
    if ('reset' in b) {
      const { bodyBytes, record: data } = b.reset;
      if (bodyBytes === undefined) return void req.socket.resetAndDestroy();
      const body = Buffer.from(JSON.stringify(data ?? {}));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
      // Sent before the reset: the client has headers and part of the body.
      res.write(body.subarray(0, bodyBytes), () => setTimeout(() => req.socket.resetAndDestroy(), 20));
      return;
    }
    if ('record' in b) {
      const headers = { ...b.headers, ...(b.etag === undefined ? {} : { etag: b.etag }) };
      const answer = (fn: () => void) => {
        const later = () => delay(b.delayMs, fn);
        if (b.until) void b.until.then(later, later);
        else later();
      };
      if (b.etag !== undefined && req.headers['if-none-match'] === b.etag) {
        notModified.set(id, (notModified.get(id) ?? 0) + 1);
        return answer(() => {
          res.writeHead(304, headers);
          res.end();
        });
      }
      return answer(() => send(200, JSON.stringify(b.record), headers));
    }
    delay(b.delayMs, () => send(b.status, b.body ?? '', b.headers));
  });
  // How long an idle kept-alive connection stays open (Node's default: 5 s).
  if (options.keepAliveMs !== undefined) server.keepAliveTimeout = options.keepAliveMs;
  let open = 0;
  server.on('connection', (socket) => {
    open++;
    socket.on('close', () => open--);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host}:${port}`;
  return {
    url: `${origin}/items/{id}`,
    origin,
    set: (id, b) => void behaviours.set(id, b),
    count: (id) => counts.get(id) ?? 0,
    notModified: (id) => notModified.get(id) ?? 0,
    total: () => total,
    paths,
    arrivals,
    mostAtOnce: () => most,
    resetMostAtOnce: () => void (most = atOnce),
    headersOf: (id) => lastHeaders.get(id),
    releaseHeld() {
      for (const res of held) {
        res.writeHead(503);
        res.end();
      }
      held.clear();
    },
    streamedChunks: (id) => streamed.get(id) ?? 0,
    openConnections: () => open,
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A record that satisfies the bundled schema. */
export function record(id: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    title: `Entry ${id}`,
    body: `# Entry ${id}\n\nSome text.`,
    author: 'Test Author',
    tags: ['test'],
    updatedAt: '2030-01-01T00:00:00Z',
    related: [],
    ...fields,
  };
}

/** The refresh task of one entry of this upstream, as the service sends it to the pool. */
export function refreshTask(upstream: Pick<TestUpstream, 'url'>, id: string): RefreshTask {
  return {
    kind: 'refresh',
    id,
    upstreamUrl: upstream.url,
    timeoutMs: 5000,
    maxBytes: 1_000_000,
    schemaPath: BUNDLED_SCHEMA,
    cacheControl: { obey: true, minTtlMs: 1000, maxTtlMs: 86_400_000 },
  };
}
