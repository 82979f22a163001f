// The upstream as both sides of the pool boundary speak of it: the URL of one
// record, and what the upstream said of a record's validators and freshness
// (kept by the database, sent back on a conditional refresh).

/** Fill the template's `{id}`; refuses any URL that would leave the template's origin. */
export function upstreamUrl(template: string, id: string): string {
  const url = template.replaceAll('{id}', encodeURIComponent(id));
  const expected = new URL(template.replaceAll('{id}', 'x')).origin;
  if (new URL(url).origin !== expected) throw new Error('the id would change the upstream host');
  return url;
}

/** The upstream's validators of a record (ETag, Last-Modified), as it sent them. */
export interface Validators {
  etag: string | null;
  lastModified: string | null;
}

/**
 * What the upstream said of a record's freshness (Cache-Control, Expires,
 * Age). null: it said nothing, and the settings decide.
 */
export interface UpstreamFreshness {
  /** How long the record is fresh from now, within ENTRY_TTL_MIN/MAX_SECONDS. */
  ttlMs: number | null;
  /** stale-while-revalidate: how long past its TTL it may be served while it is refreshed. */
  staleWhileRevalidateMs: number | null;
  /** stale-if-error: how long past its TTL it may be served while refreshing it fails. */
  staleIfErrorMs: number | null;
  /** no-store: answer it, keep nothing. */
  noStore: boolean;
}
