// Operator endpoints behind ADMIN_TOKEN: the status page (/admin, HTML for a
// browser, JSON to a program — curl's `*/*` included), the outbox at a glance,
// and a dead message retried or deleted.
import type { Router } from '@koa/router';
import type { AppDeps } from '../app.js';
import { requireAdmin } from '../auth.js';
import { BadRequest, Conflict, NotFound } from '../errors.js';
import { setHtml, wantsHtml } from '../html-views.js';
import type { DeadLetterChange } from '../../ops/dead-letters.js';
import { statusPage } from '../../ops/status-page.js';

export function adminRoutes(router: Router, deps: AppDeps): void {
  const admin = requireAdmin(deps.config.adminToken);
  router.get('/admin', admin, async (ctx) => {
    const status = await deps.admin.status();
    ctx.set('Cache-Control', 'no-store');
    ctx.set('Vary', 'Accept');
    if (wantsHtml(ctx)) {
      setHtml(ctx, statusPage(status, await deps.admin.plotted()));
    } else {
      ctx.body = status;
    }
  });
  router.get('/admin/outbox', admin, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await deps.admin.outbox();
  });
  // Dead letters: Bearer only, as every request that changes state.
  const change = requireAdmin(deps.config.adminToken, 'change');
  router.post('/admin/outbox/:id/retry', change, async (ctx) => {
    const id = messageId(ctx.params.id);
    settled(await deps.admin.deadLetters.retry(id, ctx.state.requestId as string), id);
    ctx.status = 202;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { id, state: 'pending' };
  });
  router.delete('/admin/outbox/:id', change, async (ctx) => {
    const id = messageId(ctx.params.id);
    settled(await deps.admin.deadLetters.drop(id, ctx.state.requestId as string), id);
    ctx.status = 204;
  });
}

/** An outbox message's id: a positive whole number. */
function messageId(raw: string | undefined): number {
  const id = /^[1-9]\d{0,15}$/.test(raw ?? '') ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(id)) throw new BadRequest('A message id is a positive whole number.');
  return id;
}

/** Only a dead message is retried or deleted: the others are the mailers'. */
function settled(change: DeadLetterChange, id: number): void {
  if (change === 'missing') throw new NotFound(`There is no message ${id} in the outbox.`);
  if (change === 'not-dead') throw new Conflict(`Message ${id} is not dead: it is queued, being sent or sent already.`);
}
