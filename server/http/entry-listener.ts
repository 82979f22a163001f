// The read of one entry, ahead of Koa: a GET or HEAD of <source path>/:id for a
// client that does not prefer HTML is answered by this plain request listener
// — from memory when the tier holds the entry fresh, else through the same
// freshness check — before Koa builds a context, with the headers, conditional
// answers, access log line and request metrics the route gives. A refusal (an
// error to answer as a problem), HTML, and every other request go on to Koa
// unchanged (a refusal with its outcome, so the check is not made twice).
// Measured (bench:profile): Koa's context, its compose and its setters were
// most of a hit's main-thread time.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ENTRY_ID } from '../../shared/entry-id.js';
import { isRefusal, type Answer, type Freshness, type Outcome } from '../freshness/freshness.js';
import { entryRoute } from './routes/entries.js';
import type { AccessLog, RequestObserver } from './access-log.js';
import { cacheStatus } from './cache-status.js';
import { notModifiedBy } from './conditional.js';
import { prefersHtml } from './html-views.js';


/** What the listener leaves on a request it hands to Koa: the outcome already reached, and when the request came. */
export interface HandedOn {
  freshenOutcome?: Outcome | { thrown: unknown };
  freshenStartedAt?: number;
}

export type Listener = (req: IncomingMessage, res: ServerResponse) => void;

interface Served {
  name: string;
  /** `/products/`: what a request target of one of its entries starts with. */
  prefix: string;
  /** Its entries' paths, the id captured. */
  pattern: RegExp;
  route: string;
  freshness: Freshness;
}

export function entryListener(deps: {
  sources: ReadonlyArray<{ name: string; path: string; freshness: Freshness }>;
  accessLog: AccessLog;
  observe?: RequestObserver;
  next: Listener;
}): Listener {
  const { accessLog, next } = deps;
  // A plain list: a source or two, each a startsWith before any allocation.
  const served: Served[] = deps.sources.map((s) => ({
    name: s.name,
    prefix: `${s.path}/`,
    pattern: new RegExp(`^${s.path}/(${ENTRY_ID.source.slice(1, -1)})$`),
    route: entryRoute(s.path),
    freshness: s.freshness,
  }));

  function send(req: IncomingMessage, res: ServerResponse, source: Served, answer: Answer, startedAt: number, requestId: string): void {
    const { view } = answer;
    // One flat list to writeHead: Node stores no header object and checks each
    // once (and merges any set before, the server's Connection: close when stopping).
    const headers = [
      'X-Request-Id',
      requestId,
      'Cache-Status',
      cacheStatus(answer.cache),
      'Age',
      String(answer.age),
      // Revalidated by clients on each use; a record the upstream marked no-store is kept by none.
      'Cache-Control',
      answer.noStore ? 'no-store' : 'no-cache',
      'Vary',
      'Accept',
      'ETag',
      view.etag,
    ];
    let status = 200;
    if (notModifiedBy(req.headers, view.etag)) {
      status = 304;
      res.writeHead(304, headers).end();
    } else {
      headers.push('Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(view.body.length));
      res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : view.body);
    }
    const micros = Math.round((performance.now() - startedAt) * 1000);
    deps.observe?.(source.route, req.method as string, status, micros / 1e6);
    accessLog.record({ method: req.method as string, path: pathOf(req.url), status, micros, requestId, cache: answer.cache, source: source.name });
  }

  function handOn(req: IncomingMessage, res: ServerResponse, startedAt: number, outcome?: HandedOn['freshenOutcome']): void {
    const handed = req as IncomingMessage & HandedOn;
    handed.freshenStartedAt = startedAt;
    if (outcome !== undefined) handed.freshenOutcome = outcome;
    next(req, res);
  }

  return (req, res) => {
    const method = req.method;
    const url = req.url ?? '/';
    if (method !== 'GET' && method !== 'HEAD') return next(req, res);
    let source: Served | undefined;
    for (const s of served) {
      if (url.startsWith(s.prefix)) {
        source = s;
        break;
      }
    }
    if (source === undefined) return next(req, res);
    const id = source.pattern.exec(pathOf(url))?.[1];
    if (id === undefined || prefersHtml(req.headers.accept)) return next(req, res);
    const startedAt = performance.now();
    const requestId = accessLog.requestId(req.headers['x-request-id']);
    const { freshness } = source;
    const hit = freshness.peek(id);
    if (hit) return send(req, res, source, hit, startedAt, requestId);
    freshness.get(id).then(
      (outcome) => (isRefusal(outcome) ? handOn(req, res, startedAt, outcome) : send(req, res, source, outcome, startedAt, requestId)),
      (thrown: unknown) => handOn(req, res, startedAt, { thrown }),
    );
  };
}

/** The path of a request target, without its query. */
function pathOf(url: string | undefined): string {
  const target = url ?? '/';
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}
