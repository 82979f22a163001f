// Token check for the admin endpoints: `Authorization: Bearer <ADMIN_TOKEN>`,
// or — so a person can open /admin in a browser — Basic with the token as the
// password, for reading only. A browser sends remembered Basic credentials
// with any site's form post, so a request that changes state takes the Bearer
// token alone (no cross-site request forgery). With no ADMIN_TOKEN set the
// endpoints do not exist (404), so a forgotten token never leaves them open.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { Forbidden, NotFound, Unauthorized } from './errors.js';

export function requireAdmin(token: string | undefined, use: 'read' | 'change' = 'read'): Middleware {
  const expected = token === undefined ? undefined : digest(token);
  return async (ctx, next) => {
    if (!expected) throw new NotFound('There is nothing here.');
    const given = presented(ctx.get('Authorization'), use === 'read');
    if (given === undefined) throw new Unauthorized();
    // Compare digests: equal length, constant time.
    if (!timingSafeEqual(digest(given), expected)) throw new Forbidden();
    await next();
  };
}

/** The token a request presents, if any (as Basic only where `basicToo`). */
function presented(header: string, basicToo: boolean): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  if (!basicToo) return undefined;
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
