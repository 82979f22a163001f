// HTML for people: an entry page and the friendly error page. Everything from
// upstream is escaped; nothing internal is ever shown.
import type { Context } from 'koa';
import { hasOwnPage } from '../../shared/entry-id.js';
import { definitionList, escapeHtml, layout, PAGE_CSP } from '../../shared/html.js';

export { escapeHtml };

/** Prefers HTML only when the client ranks it ahead of JSON (browsers do). */
export function wantsHtml(ctx: Context): boolean {
  return ctx.get('Accept').includes('html') && ctx.accepts('json', 'html') === 'html';
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

export function entryPage(body: Buffer, cacheStatus: string): string {
  const { id, data, fetchedAt } = JSON.parse(body.toString('utf8')) as {
    id: string;
    data: Record<string, unknown>;
    fetchedAt: string;
  };
  const title = typeof data.title === 'string' && data.title !== '' ? data.title : id;
  // The Markdown as written: rendering it is page work, done off this thread
  // for the published page, which is linked.
  const text = typeof data.body === 'string' ? `<pre>${escapeHtml(data.body)}</pre>` : '';
  const published = !hasOwnPage(id) ? '' : `<a href="/pages/${encodeURIComponent(id)}.html">the published page</a> · `;
  const fields = definitionList(data);
  const related = Array.isArray(data.related)
    ? data.related
        .filter((r): r is string => typeof r === 'string')
        .map((r) => `<li><a href="/entries/${encodeURIComponent(r)}">${escapeHtml(r)}</a></li>`)
        .join('')
    : '';
  return layout(
    title,
    `<p class="status">Entry ${escapeHtml(id)}</p>
<h1>${escapeHtml(title)}</h1>
${text}
${fields}
${related ? `<h2>Related</h2><ul>${related}</ul>` : ''}
<p class="meta">Fetched ${escapeHtml(fetchedAt)} · ${escapeHtml(cacheStatus)} · ${published}<a href="/entries/${encodeURIComponent(id)}/related">related entries as JSON</a></p>`,
  );
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
