// The published index, in shards, as sitemaps are split (sitemaps.org: at
// most 50,000 URLs and 50 MB a file): each shard — the entries whose id
// hashes into it (shared/entry-id.ts) — has a page of links
// (index/<n>.html) and a sitemap (sitemaps/<n>.xml); the top of the index is
// a page of the shards (index.html), a sitemap index (sitemap.xml) and the
// manifest the server reads at start (index/shards.json). Rendering only:
// the writing is publish-tasks.ts's.
import { escapeHtml, layout } from '../shared/html.js';
import { hasOwnPage } from '../shared/entry-id.js';
import { DEFAULT_PATHS, SHARD_PAGES, SHARD_SITEMAPS, SITEMAP_INDEX, shardName } from '../shared/publish-layout.js';
import type { IndexEntry, ShardSummary } from './protocol.js';

/** Entries one shard's page and sitemap list at most (sitemaps.org's limit). */
export const SHARD_MAX_ENTRIES = 50_000;
/** Bytes one shard's page may reach (long titles): the rest is left to its sitemap. */
export const SHARD_PAGE_MAX_BYTES = 4 * 1024 * 1024;


export interface Manifest {
  shards: number;
  written: ShardSummary[];
}

const count = (n: number) => n.toLocaleString('en');

// Lines per block of IndexShardTask.entries: ~300 × ~150 bytes, under V8's 128 KiB for young objects.
const LINES_PER_BLOCK = 300;

/** A shard's entries as blocks of lines (IndexShardTask.entries), for the server to send. */
export function indexBlocks(entries: readonly IndexEntry[]): string[] {
  const blocks: string[] = [];
  for (let i = 0; i < entries.length; i += LINES_PER_BLOCK) {
    blocks.push(
      entries
        .slice(i, i + LINES_PER_BLOCK)
        .map((e) => `${e.id}\t${e.fetchedAt}\t${(e.title ?? '').replace(/[\t\n\r]/g, ' ')}`)
        .join('\n'),
    );
  }
  return blocks;
}

/** The entries of the blocks, one at a time. */
function* indexLines(blocks: readonly string[]): Generator<IndexEntry> {
  for (const block of blocks) yield* blockLines(block);
}

function* blockLines(block: string): Generator<IndexEntry> {
  for (let at = 0; at < block.length; ) {
    let end = block.indexOf('\n', at);
    if (end < 0) end = block.length;
    const tab1 = block.indexOf('\t', at);
    const tab2 = block.indexOf('\t', tab1 + 1);
    const title = block.slice(tab2 + 1, end);
    yield { id: block.slice(at, tab1), fetchedAt: Number(block.slice(tab1 + 1, tab2)), title: title === '' ? null : title };
    at = end + 1;
  }
}

function xml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/**
 * The page of one shard: a link to each entry's page, in id order, as pieces
 * to write one after another (a shard may list thousands).
 */
export function* shardPageHtml(shard: number, shards: number, entries: readonly string[], truncated: boolean, writtenAt: number, pages = DEFAULT_PATHS.pages): Generator<string> {
  const name = shardName(shard, shards);
  let listed = 0;
  let bytes = 0;
  for (const e of indexLines(entries)) {
    if (hasOwnPage(e.id)) listed++;
  }
  const [head, foot] = layout(
    `Published entries, index page ${name}`,
    `<p class="status"><a href="${pages}/">Published entries</a></p>
<h1>Index page ${name} of ${count(shards)}</h1>
<p class="meta">${count(listed)} entries · written ${new Date(writtenAt).toISOString()} · <a href="${pages}/${SHARD_SITEMAPS}/${name}.xml">sitemap</a></p>
<ul class="entries">
\u0000
</ul>`,
  ).split('\u0000') as [string, string];
  yield head;
  let shown = 0;
  for (const e of indexLines(entries)) {
    if (!hasOwnPage(e.id)) continue;
    const item = `<li><a href="${pages}/${e.id}.html">${escapeHtml(e.title?.trim() || e.id)}</a> <span class="meta">${e.id}</span></li>\n`;
    bytes += item.length;
    if (bytes > SHARD_PAGE_MAX_BYTES) break;
    shown++;
    yield item;
  }
  if (truncated || shown < listed) {
    yield `</ul>\n<p class="meta">This page lists the first ${count(shown)} entries of its shard; the shard holds more. (Raise PUBLISH_INDEX_SHARDS.)</p>\n<ul class="entries">`;
  }
  yield foot;
}

/** The sitemap of one shard, in pieces: each entry page's absolute URL and when it was fetched. */
export function* shardSitemapXml(entries: readonly string[], publicUrl: string, pages = DEFAULT_PATHS.pages): Generator<string> {
  const base = xml(`${publicUrl}${pages}/`);
  yield '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n';
  let n = 0;
  for (const e of indexLines(entries)) {
    if (!hasOwnPage(e.id)) continue;
    if (n++ >= SHARD_MAX_ENTRIES) break;
    yield `<url><loc>${base}${e.id}.html</loc><lastmod>${new Date(e.fetchedAt).toISOString()}</lastmod></url>\n`;
  }
  yield '</urlset>\n';
}

/** The top of the index: the shards that hold entries, with their counts. */
export function topIndexHtml(manifest: Manifest, writtenAt: number, pages = DEFAULT_PATHS.pages): string {
  const filled = manifest.written.filter((s) => s.entries > 0);
  const total = filled.reduce((n, s) => n + s.entries, 0);
  const items = filled
    .map((s) => {
      const name = shardName(s.shard, manifest.shards);
      return `<li><a href="${pages}/${SHARD_PAGES}/${name}.html">Index page ${name}</a> <span class="meta">${count(s.entries)} entries</span></li>`;
    })
    .join('\n');
  return layout(
    'Published entries',
    `<h1>Published entries</h1>
<p class="meta">${count(total)} entries on ${count(filled.length)} index pages · written ${new Date(writtenAt).toISOString()} · <a href="${pages}/${SITEMAP_INDEX}">sitemap</a></p>
<ul class="entries">
${items}
</ul>`,
  );
}

/** The sitemap index: one sitemap per shard that holds entries, with when it was written. */
export function sitemapIndexXml(manifest: Manifest, publicUrl: string, pages = DEFAULT_PATHS.pages): string {
  const base = xml(`${publicUrl}${pages}/${SHARD_SITEMAPS}/`);
  const items = manifest.written
    .filter((s) => s.entries > 0)
    .map((s) => `<sitemap><loc>${base}${shardName(s.shard, manifest.shards)}.xml</loc><lastmod>${new Date(s.writtenAt).toISOString()}</lastmod></sitemap>`);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n${items.join('\n')}\n</sitemapindex>\n`;
}
