// The entry routes of the HTTP contract, under each source's path: one entry,
// a list, the entries a record relates to (in this source, or another named
// as `source:id`), and an operator's refresh. Every read goes through the
// source's freshness check; this file only speaks HTTP.
import { Readable } from 'node:stream';
import type { Router } from '@koa/router';
import type Koa from 'koa';
import type { AppDeps, HttpSource } from '../app.js';
import { requireAdmin } from '../auth.js';
import { ENTRY_ID, MAX_IDS } from '../../../shared/entry-id.js';
import { relatedParts } from '../../../shared/sources.js';
import { notModified } from '../conditional.js';
import { isRefusal, type Answer, type Outcome } from '../../freshness/freshness.js';
import { cacheStatus } from '../cache-status.js';
import { BadRequest, Overloaded, problemFor } from '../errors.js';
import type { HandedOn } from '../entry-listener.js';
import { entryPage, setHtml, wantsHtml, type EntryPaths } from '../html-views.js';

function checkId(id: string): string {
  if (!ENTRY_ID.test(id)) {
    throw new BadRequest('An entry id is 1 to 128 letters, digits, "_" or "-".');
  }
  return id;
}

/** The route of one entry of a source, as metrics and the access log name it. */
export const entryRoute = (path: string): string => `${path}/:id`;

export function entryRoutes(router: Router, deps: AppDeps, source: HttpSource): void {
  const { freshness, path } = source;
  const bySource = new Map(deps.sources.map((s) => [s.name, s]));
  const paths: EntryPaths = { entries: path, pages: source.pagesPath, sourcePath: (name) => bySource.get(name)?.path };

  router.get(entryRoute(path), async (ctx) => {
    ctx.state.source = source.name;
    // Handed on by the entry listener, which reached the outcome already (a refusal, or what it threw).
    const reached = (ctx.req as HandedOn).freshenOutcome;
    if (reached !== undefined && 'thrown' in reached) throw reached.thrown;
    sendEntry(ctx, served(reached ?? (await freshness.get(checkId(ctx.params.id as string)))), paths);
  });

  router.get(path, async (ctx) => {
    ctx.state.source = source.name;
    const ids = parseIds(ctx.query.ids);
    sendList(ctx, (id) => `${path}/${id}`, '', ids, await freshness.getMany(ids));
  });

  router.get(`${path}/:id/related`, async (ctx) => {
    ctx.state.source = source.name;
    const id = checkId(ctx.params.id as string);
    const { view } = served(await freshness.get(id));
    // Related ids come from upstream data: each is checked like any id, and
    // one that names a source (`products:p1`) is read through that source's check.
    const unique = [...new Set(view.related)].slice(0, MAX_IDS);
    const read: Array<{ related: string; from: HttpSource; id: string }> = [];
    const rejected: ItemError[] = [];
    for (const related of unique) {
      const { source: named, id: entry } = relatedParts(related);
      const from = named === undefined ? source : bySource.get(named);
      if (from === undefined) rejected.push({ id: related, status: 400, title: 'Bad request', detail: 'The related id names no source served here.' });
      else if (!ENTRY_ID.test(entry)) rejected.push({ id: related, status: 400, title: 'Bad request', detail: 'The related id is not a valid entry id.' });
      else read.push({ related, from, id: entry });
    }
    // Each source's ids through its check at once, the answers put back in the record's order.
    const groups = new Map<HttpSource, number[]>();
    for (const [i, r] of read.entries()) {
      const at = groups.get(r.from);
      if (at) at.push(i);
      else groups.set(r.from, [i]);
    }
    const outcomes: Outcome[] = Array.from({ length: read.length });
    await Promise.all(
      [...groups].map(async ([from, at]) => {
        const got = await from.freshness.getMany(at.map((i) => (read[i] as (typeof read)[number]).id));
        at.forEach((i, n) => (outcomes[i] = got[n] as Outcome));
      }),
    );
    const at = new Map(read.map((r) => [r.related, `${r.from.path}/${r.id}`]));
    sendList(ctx, (related) => at.get(related) as string, `"id":${JSON.stringify(id)},`, read.map((r) => r.related), outcomes, rejected);
  });

  router.post(`${path}/:id/refresh`, requireAdmin(deps.config.adminToken, 'change'), async (ctx) => {
    ctx.state.source = source.name;
    const id = checkId(ctx.params.id as string);
    const status = freshness.refreshNow(id);
    if (status === 'overloaded') throw new Overloaded(1);
    ctx.status = 202;
    ctx.body = { id, status };
  });
}

/** The answer, or the problem its refusal is answered with. */
function served(outcome: Outcome): Answer {
  if (isRefusal(outcome)) throw problemFor(outcome);
  return outcome;
}

function parseIds(raw: unknown): string[] {
  // ?ids=a,b and ?ids=a&ids=b say the same.
  const given = typeof raw === 'string' ? raw : Array.isArray(raw) ? raw.join(',') : '';
  const ids = [...new Set(given.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  if (ids.length === 0) throw new BadRequest(`Name the entries as ?ids=a,b,c (at most ${MAX_IDS}).`);
  if (ids.length > MAX_IDS) throw new BadRequest(`At most ${MAX_IDS} ids per request; ${ids.length} were given.`);
  const bad = ids.find((id) => !ENTRY_ID.test(id));
  if (bad !== undefined) {
    throw new BadRequest(`${JSON.stringify(bad.slice(0, 140))} is not an entry id: 1 to 128 letters, digits, "_" or "-".`);
  }
  return ids;
}

/** An entry through Koa: as HTML for a browser (JSON ones are the entry listener's, ahead of Koa). */
function sendEntry(ctx: Koa.Context, answer: Answer, paths: EntryPaths, html = wantsHtml(ctx)): void {
  const { view } = answer;
  // Straight onto the response: Koa's setters are a measurable part of a hit.
  const { res } = ctx;
  const status = cacheStatus(answer.cache);
  ctx.state.cache = answer.cache;
  res.setHeader('Cache-Status', status);
  res.setHeader('Age', String(answer.age));
  // Revalidated by clients on each use; a record the upstream marked no-store is kept by none.
  res.setHeader('Cache-Control', answer.noStore ? 'no-store' : 'no-cache');
  res.setHeader('Vary', 'Accept');
  ctx.status = 200;
  if (html) {
    const etag = `${view.etag.slice(0, -1)}-html"`;
    ctx.set('ETag', etag);
    if (notModified(ctx, etag)) return void (ctx.status = 304);
    setHtml(ctx, entryPage(view, status, paths));
    return;
  }
  res.setHeader('ETag', view.etag);
  if (notModified(ctx, view.etag)) return void (ctx.status = 304);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  ctx.body = view.body;
}

interface ItemError {
  id: string;
  status: number;
  title: string;
  detail: string;
}

/**
 * The entry bytes one list answer carries at most. Past it, the remaining
 * entries are listed as errors (413, read them one by one): a list of 100
 * records of up to UPSTREAM_MAX_BYTES each would otherwise be ~100 MB for one
 * unauthenticated request.
 */
export const LIST_MAX_BYTES = 8 * 1024 * 1024;

/**
 * A list answer: the entries' prepared bodies spliced in, failures beside
 * them. The parts are streamed as they are, never joined into one copy.
 */
function sendList(
  ctx: Koa.Context,
  /** Where an entry listed can be read alone. */
  readAt: (id: string) => string,
  prefix: string,
  ids: readonly string[],
  outcomes: readonly Outcome[],
  extraErrors: ItemError[] = [],
): void {
  const parts: Buffer[] = [Buffer.from(`{${prefix}"entries":[`)];
  const errors: ItemError[] = [];
  const comma = Buffer.from(',');
  let bytes = 0;
  outcomes.forEach((o, i) => {
    const id = ids[i] as string;
    if (isRefusal(o)) {
      const problem = problemFor(o);
      errors.push({ id, status: problem.status, title: problem.title, detail: problem.detail });
    } else if (bytes + o.view.body.length > LIST_MAX_BYTES && bytes > 0) {
      errors.push({
        id,
        status: 413,
        title: 'Too large for this list',
        detail: `The entries before it fill this answer (${LIST_MAX_BYTES} bytes at most); read it at ${readAt(id)}.`,
      });
    } else {
      if (bytes > 0) parts.push(comma);
      parts.push(o.view.body);
      bytes += o.view.body.length;
    }
  });
  parts.push(Buffer.from(`],"errors":${JSON.stringify([...errors, ...extraErrors])}}`));
  ctx.set('Cache-Control', 'no-cache');
  ctx.type = 'application/json';
  ctx.length = parts.reduce((n, part) => n + part.length, 0);
  ctx.body = Readable.from(parts, { objectMode: false });
}
