// Cache tags (surrogate keys): names the upstream gives a record so that an
// operator or the upstream itself can purge every record of, say, a product
// line at once. Read from `Surrogate-Key` (space-separated, as Fastly) and
// `Cache-Tag` (comma-separated, as Cloudflare); kept per entry, bounded.

/** One tag: visible ASCII, no comma (Cache-Tag's separator), at most 128 characters. */
export const TAG = /^[\x21-\x2b\x2d-\x7e]{1,128}$/;
/** Tags kept per entry at most (the first, in the order given). */
export const MAX_TAGS_PER_ENTRY = 64;

/**
 * The tags of an answer, deduplicated and sorted (so equal sets compare
 * equal); tags that are not valid are left out. null: neither header came.
 */
export function parseTags(surrogateKey: string | null, cacheTag: string | null): string[] | null {
  if (surrogateKey === null && cacheTag === null) return null;
  // Repeated header lines arrive joined by ", ": a comma separates Surrogate-Keys too (no tag holds one).
  const given = [...(surrogateKey ?? '').split(/[\s,]+/), ...(cacheTag ?? '').split(',').map((t) => t.trim())];
  const kept = new Set<string>();
  for (const tag of given) {
    if (kept.size >= MAX_TAGS_PER_ENTRY) break;
    if (TAG.test(tag)) kept.add(tag);
  }
  return [...kept].toSorted();
}

/**
 * The tags as the entries.tags column holds them: space-separated, '' for
 * none. NULL there means unknown: stored before tags were read.
 */
export function tagsColumn(tags: readonly string[]): string {
  return tags.join(' ');
}
