// HTML for people: an entry page and the friendly error page. Everything from
// upstream is escaped; nothing internal is ever shown.
import type { Context } from 'koa';

/** Prefers HTML only when the client ranks it ahead of JSON (browsers do). */
export function wantsHtml(ctx: Context): boolean {
  return ctx.get('Accept').includes('html') && ctx.accepts('json', 'html') === 'html';
}

const STYLE = `body{font:16px/1.55 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.7rem;line-height:1.25;margin:.2rem 0 1rem}pre{white-space:pre-wrap;background:#fff;border:1px solid #ddd;border-radius:6px;padding:1rem;font-size:.9rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600;color:#555}dd{margin:0;overflow-wrap:anywhere}
.meta{color:#666;font-size:.9rem}.status{font-size:.9rem;color:#999;letter-spacing:.05em;text-transform:uppercase}a{color:#0a58ca}`;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title: string, main: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · freshen</title><style>${STYLE}</style></head>
<body><main>
${main}
</main></body></html>
`;
}

/** Security headers for every HTML answer: no script, no framing. */
export const HTML_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
} as const;

export function entryPage(body: Buffer, cacheStatus: string): string {
  const { id, data, fetchedAt } = JSON.parse(body.toString('utf8')) as {
    id: string;
    data: Record<string, unknown>;
    fetchedAt: string;
  };
  const title = typeof data.title === 'string' && data.title !== '' ? data.title : id;
  const text = typeof data.body === 'string' ? `<pre>${escapeHtml(data.body)}</pre>` : '';
  const fields = Object.entries(data)
    .filter(([key]) => key !== 'title' && key !== 'body' && key !== 'related')
    .map(([key, value]) => `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(typeof value === 'string' ? value : JSON.stringify(value))}</dd>`)
    .join('');
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
${fields ? `<dl>${fields}</dl>` : ''}
${related ? `<h2>Related</h2><ul>${related}</ul>` : ''}
<p class="meta">Fetched ${escapeHtml(fetchedAt)} · ${escapeHtml(cacheStatus)} · <a href="/entries/${encodeURIComponent(id)}/related">related entries as JSON</a></p>`,
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
