// Token check for the admin endpoints: `Authorization: Bearer <ADMIN_TOKEN>`,
// or — so a person can open /admin in a browser — Basic with the token as the
// password. With no ADMIN_TOKEN set they do not exist (404), so a forgotten
// token never leaves them open.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { Forbidden, NotFound, Unauthorized } from './errors.js';

export function requireAdmin(token: string | undefined): Middleware {
  const expected = token === undefined ? undefined : digest(token);
  return async (ctx, next) => {
    if (!expected) throw new NotFound('There is nothing here.');
    const given = presented(ctx.get('Authorization'));
    if (given === undefined) throw new Unauthorized();
    // Compare digests: equal length, constant time.
    if (!timingSafeEqual(digest(given), expected)) throw new Forbidden();
    await next();
  };
}

/** The token a request presents, if any. */
function presented(header: string): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
