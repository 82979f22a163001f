// The conditional-GET check (If-None-Match with weak comparison, and
// If-Modified-Since), through the `fresh` package Koa itself uses — but not
// Koa's ctx.fresh as is: that refuses a 304 whenever the request says
// `Cache-Control: no-cache`, which fetch() adds to every conditional request;
// an origin server answers the precondition regardless (RFC 9110 §13.1).
import type { IncomingHttpHeaders } from 'node:http';
import fresh from 'fresh';
import type { Context } from 'koa';

/** From a request's headers alone: no Koa context is needed (the entry listener has none). */
export function notModifiedBy(headers: IncomingHttpHeaders, etag: string, lastModified?: string): boolean {
  const ifNoneMatch = headers['if-none-match'];
  const ifModifiedSince = headers['if-modified-since'];
  if (ifNoneMatch === undefined && ifModifiedSince === undefined) return false;
  const request: Record<string, string> = {};
  if (ifNoneMatch !== undefined && ifNoneMatch !== '') request['if-none-match'] = ifNoneMatch;
  // If-None-Match wins when both are sent (RFC 9110 §13.2.2).
  else if (lastModified && ifModifiedSince) request['if-modified-since'] = ifModifiedSince;
  return Object.keys(request).length > 0 && fresh(request, { etag, 'last-modified': lastModified });
}

export function notModified(ctx: Context, etag: string, lastModified?: string): boolean {
  return notModifiedBy(ctx.req.headers, etag, lastModified);
}
