// Liveness and readiness: /healthz answers while the process runs; /readyz
// only while the database answers and the updater pool is up.
import type { Router } from '@koa/router';

export interface Readiness {
  check(): Promise<{ ready: boolean; checks: Record<string, string> }>;
}

export function healthRoutes(router: Router, readiness: Readiness): void {
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const { ready, checks } = await readiness.check();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not ready', checks };
  });
}
