// GET /openapi.json: the HTTP contract (../openapi.ts), serialised once, with
// an ETag so a client revalidates it for a 304.
import { createHash } from 'node:crypto';
import type { Router } from '@koa/router';
import { notModified } from '../conditional.js';
import { openapiFor } from '../openapi.js';
import type { HttpSource } from '../app.js';

const MAX_AGE_SECONDS = 60;

export function openapiRoutes(router: Router, sources: readonly HttpSource[]): void {
  const body = JSON.stringify(openapiFor(sources));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  router.get('/openapi.json', (ctx) => {
    ctx.set('ETag', etag);
    ctx.set('Cache-Control', `public, max-age=${MAX_AGE_SECONDS}`);
    if (notModified(ctx, etag)) return void (ctx.status = 304);
    ctx.type = 'application/json';
    ctx.body = body;
  });
}
