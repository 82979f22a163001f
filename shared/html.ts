// The HTML frame shared by every page freshen shows or publishes: escaping,
// one stylesheet, and a Content-Security-Policy that allows no script.

export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STYLE = `body{font:16px/1.6 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.8rem;line-height:1.25;margin:.2rem 0 1rem}h2{font-size:1.3rem;margin-top:2rem}
pre{white-space:pre-wrap;background:#fff;border:1px solid #ddd;border-radius:6px;padding:1rem;font-size:.9rem;overflow-x:auto}
code{background:#f0f0f0;border-radius:3px;padding:0 .2em}pre code{background:none;padding:0}
blockquote{border-left:3px solid #ccc;margin:1rem 0;padding:0 1rem;color:#555}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;background:#fff;border:1px solid #eee;border-radius:6px;padding:.8rem 1rem}
dt{font-weight:600;color:#555}dd{margin:0;overflow-wrap:anywhere}img{max-width:100%}
.meta{color:#666;font-size:.9rem}.status{font-size:.85rem;color:#888;letter-spacing:.05em;text-transform:uppercase;margin:0}
a{color:#0a58ca}ul.entries{padding-left:1.2rem}ul.entries li{margin:.2rem 0}`;

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A complete page; `main` and `head` are trusted HTML, `title` is escaped here.
 * `record`: the hash of the record a published page was made from, in the
 * first line of the page (data-record), where a check reads it cheaply.
 */
export function layout(title: string, main: string, head = '', record?: string): string {
  return `<!doctype html>
<html lang="en"${record === undefined ? '' : ` data-record="${escapeHtml(record)}"`}><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${PAGE_CSP}">
<title>${escapeHtml(title)} · freshen</title><style>${STYLE}</style>${head}</head>
<body><main>
${main}
</main></body></html>
`;
}

/** A record's fields other than title, body and related, as an escaped <dl>. */
export function definitionList(data: Record<string, unknown>): string {
  const rows = Object.entries(data)
    .filter(([key]) => key !== 'title' && key !== 'body' && key !== 'related')
    .map(([key, value]) => {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      return `<dt>${escapeHtml(key)}</dt><dd>${escapeHtml(text)}</dd>`;
    })
    .join('');
  return rows ? `<dl>${rows}</dl>` : '';
}
