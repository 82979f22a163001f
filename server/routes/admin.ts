// Operator endpoints behind ADMIN_TOKEN: the outbox at a glance.
import type { Router } from '@koa/router';
import type { AppDeps } from '../app.js';
import { requireAdmin } from '../auth.js';

export interface AdminViews {
  /** Counts by state, the oldest unsent message's age, the mailers, recent messages. */
  outbox(): Promise<unknown>;
}

export function adminRoutes(router: Router, deps: AppDeps): void {
  router.get('/admin/outbox', requireAdmin(deps.config.adminToken), async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.admin.outbox();
  });
}
