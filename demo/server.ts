// The demo upstream: a plain node:http server over the generated data set in
// demo/data.ts, with knobs for latency, jitter and simulated failures. freshen
// uses it when UPSTREAM_URL is unset; tests and benchmarks start it on port 0.
//
//   GET /entries/:id  200 record JSON (Surrogate-Key: its tags) | 400 bad id | 404 unknown id | 503 simulated failure
//   GET /             JSON index: count, example/invalid/large ids, knobs in force
//   GET /healthz      200 "ok"
// HEAD is answered like GET without a body; other methods get 405.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEMO_ENTRY_COUNT, demoRecordJson, demoSurrogateKeys, invalidDemoIds, largeDemoIds, mulberry32 } from './data.js';

export interface DemoOptions {
  host?: string;
  port?: number;
  latencyMs?: number;
  jitterMs?: number;
  failureRate?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface DemoUpstream {
  /** URL template for freshen's UPSTREAM_URL, e.g. http://127.0.0.1:PORT/entries/{id}. */
  url: string;
  origin: string;
  port: number;
  /** Entry requests received so far, counted on arrival whatever their answer. */
  readonly requests: number;
  close(): Promise<void>;
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;
// setTimeout's ceiling; a longer delay would silently become 1 ms.
const MAX_DELAY_MS = 2_147_483_647;

export async function startDemoUpstream(opts: DemoOptions = {}): Promise<DemoUpstream> {
  const o = checkOptions(opts);
  // Separate streams, both advanced once per entry request, so whether the
  // n-th request fails depends only on seed, failureRate and n, not on latency.
  const failureRoll = mulberry32(o.seed);
  const jitterRoll = mulberry32(o.seed ^ 0x5bd1e995);
  const timers = new Set<NodeJS.Timeout>();
  let requests = 0;
  let url = '';

  const server = createServer((req, res) => {
    const started = performance.now();
    if (o.log) {
      const log = o.log;
      res.once('finish', () =>
        log(`${req.method} ${req.url} ${res.statusCode} ${Math.round(performance.now() - started)}ms`),
      );
    }
    route(req, res);
  });

  function route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const entry = /^\/entries\/([^/]*)$/.exec(path);
    if (!entry && path !== '/' && path !== '/healthz') return sendJson(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'method not allowed' });
    }
    if (path === '/healthz') return send(res, 200, 'text/plain; charset=utf-8', 'ok');
    if (path === '/') return sendJson(res, 200, index());
    const id = decode(entry![1]!);
    if (id === undefined || !ID.test(id)) return sendJson(res, 400, { error: 'bad id' });

    requests++;
    const fails = failureRoll() < o.failureRate;
    const delay = o.latencyMs + jitterRoll() * o.jitterMs;
    later(res, delay, () => {
      if (fails) {
        res.setHeader('Retry-After', '1');
        return sendJson(res, 503, { error: 'unavailable (simulated failure)' });
      }
      const json = demoRecordJson(id);
      if (json === undefined) return sendJson(res, 404, { error: 'not found' });
      // Its tags, so that a purge by tag can be tried on the demo (README, Purging).
      res.setHeader('Surrogate-Key', demoSurrogateKeys(id) ?? '');
      send(res, 200, 'application/json; charset=utf-8', json);
    });
  }

  // A timer, not a busy wait; dropped if the client goes away or close() runs.
  function later(res: ServerResponse, ms: number, answer: () => void): void {
    if (ms <= 0) return answer();
    const timer = setTimeout(() => {
      timers.delete(timer);
      answer();
    }, ms);
    timers.add(timer);
    res.once('close', () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  }

  function index(): object {
    return {
      service: 'freshen demo upstream',
      entries: DEMO_ENTRY_COUNT,
      url,
      examples: ['e0001', 'e0002', 'e0050', 'e1200'],
      invalid: invalidDemoIds(),
      large: largeDemoIds(),
      options: { latencyMs: o.latencyMs, jitterMs: o.jitterMs, failureRate: o.failureRate, seed: o.seed },
      requests,
    };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const origin = `http://${hostForUrl(address.address)}:${address.port}`;
  url = `${origin}/entries/{id}`;
  o.log?.(`demo upstream listening on ${url}`);

  let closing: Promise<void> | undefined;
  return {
    url,
    origin,
    port: address.port,
    get requests() {
      return requests;
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((err) => (err ? reject(err) : resolve()));
        // Keep-alive sockets would otherwise hold close() open for seconds.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

interface Checked {
  host: string;
  port: number;
  latencyMs: number;
  jitterMs: number;
  failureRate: number;
  seed: number;
  log: ((line: string) => void) | undefined;
}

/** Applies defaults; throws one RangeError naming every bad option. */
function checkOptions(opts: DemoOptions): Checked {
  const o: Checked = {
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    latencyMs: opts.latencyMs ?? 0,
    jitterMs: opts.jitterMs ?? 0,
    failureRate: opts.failureRate ?? 0,
    seed: opts.seed ?? 1,
    log: opts.log,
  };
  const problems: string[] = [];
  const check = (name: keyof Checked, ok: (v: number) => boolean, what: string) => {
    const value: unknown = o[name];
    if (typeof value !== 'number' || !ok(value)) problems.push(`${name} must be ${what} (got ${shown(value)})`);
  };
  if (typeof o.host !== 'string' || o.host === '') problems.push('host must be a non-empty string');
  check('port', (v) => Number.isInteger(v) && v >= 0 && v <= 65535, 'an integer from 0 to 65535');
  // NaN fails every comparison and Infinity the upper bound, so both are caught.
  check('latencyMs', (v) => v >= 0 && v <= MAX_DELAY_MS, `a number of milliseconds from 0 to ${MAX_DELAY_MS}`);
  check('jitterMs', (v) => v >= 0 && v <= MAX_DELAY_MS, `a number of milliseconds from 0 to ${MAX_DELAY_MS}`);
  check('failureRate', (v) => v >= 0 && v <= 1, 'a number from 0 to 1');
  check('seed', (v) => Number.isSafeInteger(v), 'an integer');
  if (problems.length === 0 && o.latencyMs + o.jitterMs > MAX_DELAY_MS) {
    problems.push(`latencyMs + jitterMs must be at most ${MAX_DELAY_MS}`);
  }
  if (problems.length > 0) throw new RangeError(`invalid demo upstream options: ${problems.join('; ')}`);
  return o;
}

function shown(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

// Wildcard listeners are reached through loopback; IPv6 literals need brackets.
function hostForUrl(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}

function sendJson(res: ServerResponse, status: number, value: object): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

// Node drops the body itself for HEAD requests, keeping Content-Length.
function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
