// The upstreams freshen serves. The env vars describe one, named `entries`
// and served at /entries; its rows are the entries table's.

/** The source the env vars describe. */
export const DEFAULT_SOURCE = 'entries';

/** A related id as a record gives it: `p1` (of the record's own source) or `products:p1` (of the source named). */
export function relatedParts(related: string): { source: string | undefined; id: string } {
  const colon = related.indexOf(':');
  return colon < 0 ? { source: undefined, id: related } : { source: related.slice(0, colon), id: related.slice(colon + 1) };
}
