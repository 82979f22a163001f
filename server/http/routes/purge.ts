// Purges: an operator's (POST /admin/purge, Bearer only) and the upstream's
// signed webhook (POST /hooks/:source). Both name entries by id or by tag;
// the operator's may drop them (`hard`), the webhook's only mark them stale.
import type { Router } from '@koa/router';
import type Koa from 'koa';
import getRawBody from 'raw-body';
import { z } from 'zod';
import { ENTRY_ID } from '../../../shared/entry-id.js';
import { TAG } from '../../../shared/tags.js';
import type { PurgeResult } from '../../freshness/purge.js';
import type { Verdict } from '../../freshness/webhook.js';
import type { AppDeps } from '../app.js';
import { requireAdmin } from '../auth.js';
import { BadRequest, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType } from '../errors.js';

/** The largest body taken: 10,000 ids of 128 characters fit, with their quotes and commas. */
export const PURGE_BODY_LIMIT = 1_400_000;
export const MAX_PURGE_IDS = 10_000;
export const MAX_PURGE_TAGS = 100;

const ids = z.array(z.string().regex(ENTRY_ID, 'an entry id is 1 to 128 letters, digits, "_" or "-"')).min(1).max(MAX_PURGE_IDS);
const tags = z.array(z.string().regex(TAG, 'a tag is 1 to 128 visible ASCII characters, no comma')).min(1).max(MAX_PURGE_TAGS);
const either = (o: { ids?: unknown; tags?: unknown }) => (o.ids === undefined) !== (o.tags === undefined);
const EITHER = { message: 'name entries by "ids" or by "tags" (one of them)' };

const AdminPurge = z.strictObject({ source: z.string().optional(), ids: ids.optional(), tags: tags.optional(), hard: z.boolean().optional() }).refine(either, EITHER);
const HookPurge = z.strictObject({ ids: ids.optional(), tags: tags.optional() }).refine(either, EITHER);

export function purgeRoutes(router: Router, deps: AppDeps): void {
  const { purger, webhooks, logger } = deps;

  const names = deps.sources.map((s) => s.name);
  router.post('/admin/purge', requireAdmin(deps.config.adminToken, 'change'), async (ctx) => {
    const body = parse(AdminPurge, await readBody(ctx));
    if (body.source !== undefined && !names.includes(body.source)) {
      throw new BadRequest(`There is no source ${JSON.stringify(body.source.slice(0, 100))}; the sources are: ${names.join(', ')}.`);
    }
    // Tags name entries in every source unless one is named; ids belong to one source (the only one, when there is one).
    const sources = body.source !== undefined ? [body.source] : body.tags !== undefined || names.length === 1 ? names : undefined;
    if (sources === undefined) throw new BadRequest(`Name the source of these ids as "source": one of ${names.join(', ')}.`);
    const hard = body.hard ?? false;
    const results: Array<[string, PurgeResult]> = [];
    for (const source of sources) {
      results.push([source, await purger.purge({ source, hard, by: 'admin', requestId: ctx.state.requestId as string | undefined, ...named(body) })]);
    }
    answer(ctx, sources.length === 1 ? (sources[0] as string) : '*', hard, results);
  });

  router.post('/hooks/:source', async (ctx) => {
    const source = ctx.params.source as string;
    if (!webhooks.has(source)) throw new NotFound('There is no webhook here.');
    // The signature first: an unsigned call is refused 401 whatever it sends.
    const raw = await readBody(ctx, false);
    const verdict = await webhooks.verify(source, ctx.get('X-Freshen-Signature') || undefined, raw);
    if (!verdict.ok) {
      logger.warn({ source, why: verdict.why, requestId: ctx.state.requestId as string | undefined }, 'webhook call refused');
      throw new Unauthorized(refusal(verdict.why), 'Signature realm="freshen", header="X-Freshen-Signature"');
    }
    try {
      if (ctx.is('application/json') !== 'application/json') throw new UnsupportedMediaType('application/json');
      const body = parse(HookPurge, json(raw));
      answer(ctx, source, false, [[source, await purger.purge({ source, hard: false, by: 'webhook', requestId: ctx.state.requestId as string | undefined, ...named(body) })]]);
    } catch (err) {
      // Nothing was done (or not all of it): the upstream may send this call again.
      await webhooks.release(source, verdict.signature).catch((why: unknown) =>
        logger.warn({ source, why: (why as Error).message }, 'a webhook call that failed could not be released: the same call will be refused as replayed'),
      );
      throw err;
    }
  });
}

/** What the body names, each once. */
function named(body: { ids?: string[] | undefined; tags?: string[] | undefined }): { ids: string[] } | { tags: string[] } {
  return body.ids !== undefined ? { ids: [...new Set(body.ids)] } : { tags: [...new Set(body.tags)] };
}

/** `source`: the one purged, or `*` for a purge by tag in every source; `bySource` says how many matched in each. */
function answer(ctx: Koa.Context, source: string, hard: boolean, results: ReadonlyArray<[string, PurgeResult]>): void {
  ctx.set('Cache-Control', 'no-store');
  const total = (key: 'matched' | 'batches' | 'ms') => results.reduce((n, [, r]) => n + r[key], 0);
  const bySource = Object.fromEntries(results.map(([name, r]) => [name, r.matched]));
  ctx.body = { source, hard, matched: total('matched'), batches: total('batches'), ms: total('ms'), bySource };
}

function refusal(why: Exclude<Verdict, { ok: true }>['why']): string {
  switch (why) {
    case 'unsigned':
      return 'This needs an X-Freshen-Signature header: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.';
    case 'out-of-window':
      return 'The signature’s timestamp is more than 5 minutes from now.';
    case 'replayed':
      return 'This signature was used before.';
    default:
      return 'The signature does not match the body.';
  }
}

/** The request's body, bounded; JSON by its Content-Type unless `typed` is false (checked later). */
async function readBody(ctx: Koa.Context, typed = true): Promise<Buffer> {
  if (typed && ctx.is('application/json') !== 'application/json') throw new UnsupportedMediaType('application/json');
  try {
    return await getRawBody(ctx.req, { length: ctx.get('Content-Length') || undefined, limit: PURGE_BODY_LIMIT });
  } catch (err) {
    if ((err as { type?: string }).type === 'entity.too.large') throw new PayloadTooLarge(PURGE_BODY_LIMIT);
    throw new BadRequest('The body could not be read whole.');
  }
}

function json(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequest('The body is not JSON.');
  }
}

function parse<T>(schema: z.ZodType<T>, raw: Buffer | unknown): T {
  const result = schema.safeParse(Buffer.isBuffer(raw) ? json(raw) : raw);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message));
  throw new BadRequest(`The body is not a purge: ${problems.join('; ')}.`);
}
