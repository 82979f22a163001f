// Where published files live in PUBLISH_DIR, on both sides of the pool
// boundary: each entry's page, and the index in shards as sitemaps are split
// (sitemaps.org): a page and a sitemap per shard, a top page and a sitemap
// index, and the manifest of the shards. Entries are spread over the shards by
// a hash of their ids, kept in the entries table so one shard is one range.

/** The top of the index (an entry with the id `index` has no page of its own: shared/entry-id.ts). */
export { INDEX_PAGE } from './entry-id.js';
/** The shards' pages, and their manifest (`index/shards.json`). */
export const SHARD_PAGES = 'index';
export const MANIFEST = 'shards.json';
/** The shards' sitemaps, and the sitemap index beside the top page. */
export const SHARD_SITEMAPS = 'sitemaps';
export const SITEMAP_INDEX = 'sitemap.xml';

/** Where a source's pages and entries are served, for the links pages carry: `/pages/products`, `/products`. */
export interface PagePaths {
  readonly pages: string;
  readonly entries: string;
}
/** The default source's. */
export const DEFAULT_PATHS: PagePaths = { pages: '/pages', entries: '/entries' };

/**
 * An entry's place among the index shards: FNV-1a (32 bits) of its id, mixed, kept
 * in the entries table (`shard_key`) so that one shard is one indexed range.
 * Stable: it depends on the id alone, never on what else is stored.
 */
export function shardKeyOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // FNV mixes the last characters into the low bits only, and the shard is
  // read from the high ones: murmur3's finalizer spreads every bit over all.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

const KEYS = 2 ** 32;

/** The shard (0 … shards - 1) an entry of this shard key is listed in. */
export function shardOf(shardKey: number, shards: number): number {
  return Math.floor((shardKey * shards) / KEYS);
}

/** The shard keys of one shard: [from, to). */
export function shardRange(shard: number, shards: number): { from: number; to: number } {
  return { from: Math.ceil((shard * KEYS) / shards), to: Math.ceil(((shard + 1) * KEYS) / shards) };
}

/** An index shard's file name without its extension: its number, as wide as the largest. */
export function shardName(shard: number, shards: number): string {
  return String(shard).padStart(String(shards - 1).length, '0');
}
