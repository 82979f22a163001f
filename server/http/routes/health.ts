// Liveness and readiness: /healthz answers while the process runs; /readyz
// only while the database answers and the updater pool is up.
import type { Router } from '@koa/router';

export interface Readiness {
  check(): Promise<{ ready: boolean; checks: Record<string, string> }>;
}

/** The Prometheus text of this process, or of the whole cluster. */
export type MetricsText = () => Promise<{ contentType: string; body: string }>;

export function healthRoutes(router: Router, readiness: Readiness, metrics: MetricsText): void {
  router.get('/metrics', async (ctx) => {
    const { contentType, body } = await metrics();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = contentType;
    ctx.body = body;
  });
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
