// The conditional-GET check (If-None-Match with weak comparison, and
// If-Modified-Since), through the `fresh` package Koa itself uses — but not
// Koa's ctx.fresh as is: that refuses a 304 whenever the request says
// `Cache-Control: no-cache`, which fetch() adds to every conditional request;
// an origin server answers the precondition regardless (RFC 9110 §13.1).
import fresh from 'fresh';
import type { Context } from 'koa';

export function notModified(ctx: Context, etag: string, lastModified?: string): boolean {
  const ifNoneMatch = ctx.get('If-None-Match');
  const ifModifiedSince = ctx.get('If-Modified-Since');
  if (ifNoneMatch === '' && ifModifiedSince === '') return false;
  const request: Record<string, string> = {};
  if (ifNoneMatch !== '') request['if-none-match'] = ifNoneMatch;
  // If-None-Match wins when both are sent (RFC 9110 §13.2.2).
  else if (lastModified) request['if-modified-since'] = ifModifiedSince;
  return fresh(request, { etag, 'last-modified': lastModified });
}
