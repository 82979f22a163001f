// Operator endpoints behind ADMIN_TOKEN: the status page (/admin, HTML for a
// browser, JSON to a program — curl's `*/*` included) and the outbox at a glance.
import type { Router } from '@koa/router';
import type { AppDeps } from '../app.js';
import { requireAdmin } from '../auth.js';
import { setHtml, wantsHtml } from '../html-views.js';
import { statusPage } from '../../ops/status-page.js';

export function adminRoutes(router: Router, deps: AppDeps): void {
  const admin = requireAdmin(deps.config.adminToken);
  router.get('/admin', admin, async (ctx) => {
    const status = await deps.admin.status();
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Vary', 'Accept');
    if (wantsHtml(ctx)) {
      setHtml(ctx, statusPage(status));
    } else {
      ctx.body = status;
    }
  });
  router.get('/admin/outbox', admin, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.admin.outbox();
  });
}
