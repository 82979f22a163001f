// Bearer-token check for the admin endpoints. With no ADMIN_TOKEN set they do
// not exist (404), so a forgotten token never leaves them open.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { Forbidden, NotFound, Unauthorized } from './errors.js';

export function requireAdmin(token: string | undefined): Middleware {
  const expected = token === undefined ? undefined : digest(token);
  return async (ctx, next) => {
    if (!expected) throw new NotFound('There is nothing here.');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('Authorization'));
    if (!match) throw new Unauthorized();
    // Compare digests: equal length, constant time.
    if (!timingSafeEqual(digest(match[1] as string), expected)) throw new Forbidden();
    await next();
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
