// HTML for people: an entry page and the friendly error page. Everything from
// upstream is escaped; nothing internal is ever shown.
import { relatedParts } from '../../shared/sources.js';
import { DEFAULT_PATHS, type PagePaths } from '../../shared/publish-layout.js';
import type { IncomingMessage } from 'node:http';
import accepts from 'accepts';
import type { Context } from 'koa';
import { LRUCache } from 'lru-cache';
import { hasOwnPage } from '../../shared/entry-id.js';
import { definitionList, escapeHtml, layout, PAGE_CSP } from '../../shared/html.js';

/** Prefers HTML only when the client ranks it ahead of JSON (browsers do); from the Accept header alone. */
export function prefersHtml(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('html') && accepts({ headers: { accept } } as IncomingMessage).type(['json', 'html']) === 'html';
}

export function wantsHtml(ctx: Context): boolean {
  return prefersHtml(ctx.req.headers.accept);
}

/** Security headers for every HTML answer: no script, no framing. */
const HTML_HEADERS = {
  'Content-Security-Policy': PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
} as const;

/** Marks the answer as HTML, with the security headers every HTML answer carries. */
export function setHtml(ctx: Context, page?: string): void {
  ctx.set(HTML_HEADERS);
  ctx.type = 'text/html; charset=utf-8';
  if (page !== undefined) ctx.body = page;
}

/**
 * Entry pages by record version (ETag) and fetch, split where the cache
 * status goes: a record is parsed and escaped once per fetch, not on every
 * request. 16 MiB of pages at most; a larger page is rendered but not kept.
 */
const pages = new LRUCache<string, readonly [string, string]>({
  maxSize: 16 * 1024 * 1024,
  sizeCalculation: ([before, after]) => before.length + after.length + 1,
});

/** Where the cache status goes: the last such mark (upstream text may hold one too, but before it). */
const CACHE_STATUS = '\u0000cache-status\u0000';

/** Where an entry's source serves its entries and pages, and where each source serves its entries: the page's links. */
export interface EntryPaths extends PagePaths {
  readonly sourcePath?: (source: string) => string | undefined;
}

export function entryPage(view: { id: string; fetchedAt: number; etag: string; body: Buffer }, cacheStatus: string, paths: EntryPaths = DEFAULT_PATHS): string {
  const key = `${paths.entries} ${view.id} ${view.fetchedAt} ${view.etag}`;
  let page = pages.get(key);
  if (page === undefined) {
    page = renderEntryPage(view.body, paths);
    pages.set(key, page);
  }
  return page[0] + escapeHtml(cacheStatus) + page[1];
}

/** The page of one record, in two parts: before and after its cache status. */
function renderEntryPage(body: Buffer, paths: EntryPaths): readonly [string, string] {
  const { id, data, fetchedAt } = JSON.parse(body.toString('utf8')) as {
    id: string;
    data: Record<string, unknown>;
    fetchedAt: string;
  };
  const title = typeof data.title === 'string' && data.title !== '' ? data.title : id;
  // The Markdown as written: rendering it is page work, done off this thread
  // for the published page, which is linked.
  const text = typeof data.body === 'string' ? `<pre>${escapeHtml(data.body)}</pre>` : '';
  const published = !hasOwnPage(id) ? '' : `<a href="${paths.pages}/${encodeURIComponent(id)}.html">the published page</a> · `;
  const fields = definitionList(data);
  const related = Array.isArray(data.related)
    ? data.related
        .filter((r): r is string => typeof r === 'string')
        .map((r) => `<li><a href="${relatedHref(r, paths)}">${escapeHtml(r)}</a></li>`)
        .join('')
    : '';
  const page = layout(
    title,
    `<p class="status">Entry ${escapeHtml(id)}</p>
<h1>${escapeHtml(title)}</h1>
${text}
${fields}
${related ? `<h2>Related</h2><ul>${related}</ul>` : ''}
<p class="meta">Fetched ${escapeHtml(fetchedAt)} · ${CACHE_STATUS} · ${published}<a href="${paths.entries}/${encodeURIComponent(id)}/related">related entries as JSON</a></p>`,
  );
  const at = page.lastIndexOf(CACHE_STATUS);
  return [page.slice(0, at), page.slice(at + CACHE_STATUS.length)];
}

// A related id may name another source (`products:p1`): its link goes to that source's path.
// Anything else (upstream text) stays under this source's path, encoded: never a link off this site.
function relatedHref(related: string, paths: EntryPaths): string {
  const { source, id } = relatedParts(related);
  const other = source === undefined ? undefined : paths.sourcePath?.(source);
  if (other === undefined) return `${paths.entries}/${encodeURIComponent(related)}`;
  return `${other}/${encodeURIComponent(id)}`;
}

export function errorPage(status: number, title: string, detail: string): string {
  return layout(
    title,
    `<p class="status">Error ${status}</p>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(detail)}</p>
<p class="meta"><a href="/">freshen home</a></p>`,
  );
}
