// The front door, `/`: what this service is and where to look next — a page
// for a person, JSON for a program. Error pages link back here.
import type { Router } from '@koa/router';
import type { AppDeps } from '../app.js';
import { layout } from '../../../shared/html.js';
import { setHtml, wantsHtml } from '../html-views.js';

const LINKS: ReadonlyArray<{ path: string; what: string; admin?: boolean }> = [
  { path: '/entries/{id}', what: 'one entry as JSON (or a page, for a browser)' },
  { path: '/entries?ids=a,b,c', what: 'up to 100 entries at once' },
  { path: '/entries/{id}/related', what: 'the entries an entry relates to' },
  { path: '/pages/', what: 'the published pages of every entry' },
  { path: '/healthz', what: 'liveness' },
  { path: '/readyz', what: 'readiness: database and updater pool' },
  { path: '/metrics', what: 'Prometheus metrics' },
  { path: '/openapi.json', what: 'the HTTP contract (OpenAPI 3.1)' },
  { path: '/admin', what: 'the status page (with the admin token)', admin: true },
];

export function homeRoutes(router: Router, deps: AppDeps): void {
  // Each source's paths where /entries is (its pages where /pages is), in the file's order.
  const links = LINKS.filter((l) => !l.admin || deps.config.adminToken !== undefined).flatMap((l) => {
    const under = l.path.startsWith('/entries') ? 'entries' : l.path.startsWith('/pages') ? 'pages' : undefined;
    if (under === undefined || (deps.sources.length === 1 && deps.sources[0]?.name === 'entries' && deps.sources[0].path === '/entries')) return [l];
    return deps.sources.map((s) => ({
      path: `${under === 'entries' ? s.path : s.pagesPath}${l.path.slice(under.length + 1)}`,
      what: `${l.what} (source ${s.name})`,
    }));
  });
  const page = layout(
    'freshen',
    `<h1>freshen</h1>
<p>Entries from the upstream, served from a local copy that is kept fresh in the background.</p>
<ul>
${links.map((l) => `<li>${l.path.includes('{') ? `<code>${l.path.replace(/[{}]/g, '')}</code>` : `<a href="${l.path}">${l.path}</a>`} — ${l.what}</li>`).join('\n')}
</ul>`,
  );
  const json = { service: 'freshen', links: Object.fromEntries(links.map((l) => [l.path, l.what])) };

  router.get('/', (ctx) => {
    ctx.set('Vary', 'Accept');
    if (wantsHtml(ctx)) {
      setHtml(ctx, page);
    } else {
      ctx.body = json;
    }
  });
}
