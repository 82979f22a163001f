// The pool's publishing tasks, run off the main thread: an entry's page
// (written, or left alone when it is of this version already), the check of
// many pages against their records' hashes (the repair), and the index's
// shards and top. Every write goes through writeAtomically (publish.ts).
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { INDEX_PAGE, MANIFEST, SHARD_PAGES, SHARD_SITEMAPS, SITEMAP_INDEX, shardName } from '../shared/publish-layout.js';
import { shardPageHtml, shardSitemapXml, sitemapIndexXml, topIndexHtml, type Manifest } from './index-pages.js';
import type { CheckPagesResult, CheckPagesTask, IndexShardTask, IndexTopTask, PublishResult, PublishTask, ShardSummary } from './protocol.js';
import { entryPageHtml, pageFileName, pageRecordHash, removeUnlessNewer, writeAtomically } from './publish.js';

function failed(id: string, err: unknown): { kind: 'failed'; id: string; code: 'write-error'; message: string } {
  return { kind: 'failed', id, code: 'write-error', message: (err as Error).message };
}

export async function publish(task: PublishTask): Promise<PublishResult> {
  try {
    const name = pageFileName(task.id);
    if (task.record === null) {
      const removed = await removeUnlessNewer(task.publishDir, name, task.fetchedAt);
      return removed ? { kind: 'removed', id: task.id } : { kind: 'superseded', id: task.id };
    }
    if (task.unlessCurrent && task.hash !== null && (await pageRecordHash(task.publishDir, name)) === task.hash) {
      return { kind: 'current', id: task.id };
    }
    const text = typeof task.record === 'string' ? task.record : Buffer.from(task.record.buffer, task.record.byteOffset, task.record.byteLength).toString();
    const data = JSON.parse(text) as Record<string, unknown>;
    const html = entryPageHtml(task.id, data, task.fetchedAt, task.hash ?? '', task.paths);
    const bytes = await writeAtomically(task.publishDir, name, html, task.fetchedAt);
    return bytes === undefined ? { kind: 'superseded', id: task.id } : { kind: 'published', id: task.id, bytes };
  } catch (err) {
    return failed(task.id, err);
  }
}

// Pages read at once by one check: enough to keep the disk busy, few file handles.
const CHECK_CONCURRENCY = 16;

export async function checkPages(task: CheckPagesTask): Promise<CheckPagesResult> {
  try {
    const stale: string[] = [];
    for (let i = 0; i < task.pages.length; i += CHECK_CONCURRENCY) {
      const part = task.pages.slice(i, i + CHECK_CONCURRENCY);
      const found = await Promise.all(part.map((p) => pageRecordHash(task.publishDir, pageFileName(p.id))));
      part.forEach((p, k) => {
        const page = found[k];
        // No record: any page is stale (one that carries no hash too). A record: its page must carry its hash.
        if (p.hash === null ? page !== undefined : page !== p.hash) stale.push(p.id);
      });
    }
    return { kind: 'checked', id: task.id, stale };
  } catch (err) {
    return failed(task.id, err);
  }
}

export async function indexShard(task: IndexShardTask): Promise<PublishResult> {
  try {
    const name = shardName(task.shard, task.shards);
    if (task.entries.length === 0) {
      // Its last entry went: the shard's files go too (the top no longer links them).
      await rm(join(task.publishDir, SHARD_PAGES, `${name}.html`), { force: true });
      await rm(join(task.publishDir, SHARD_SITEMAPS, `${name}.xml`), { force: true });
      return { kind: 'removed', id: task.id };
    }
    const page = shardPageHtml(task.shard, task.shards, task.entries, task.truncated, Date.now(), task.paths?.pages);
    const sitemap = shardSitemapXml(task.entries, task.publicUrl, task.paths?.pages);
    const bytes =
      ((await writeAtomically(join(task.publishDir, SHARD_PAGES), `${name}.html`, page)) ?? 0) +
      ((await writeAtomically(join(task.publishDir, SHARD_SITEMAPS), `${name}.xml`, sitemap)) ?? 0);
    return { kind: 'published', id: task.id, bytes };
  } catch (err) {
    return failed(task.id, err);
  }
}

export async function indexTop(task: IndexTopTask): Promise<PublishResult> {
  try {
    const manifest: Manifest = { shards: task.shards.length, written: await mergedShards(task) };
    const now = Date.now();
    let bytes = (await writeAtomically(join(task.publishDir, SHARD_PAGES), MANIFEST, `${JSON.stringify(manifest)}\n`)) ?? 0;
    bytes += (await writeAtomically(task.publishDir, SITEMAP_INDEX, sitemapIndexXml(manifest, task.publicUrl, task.paths?.pages))) ?? 0;
    bytes += (await writeAtomically(task.publishDir, INDEX_PAGE, topIndexHtml(manifest, now, task.paths?.pages))) ?? 0;
    await removeOtherShards(task.publishDir, manifest.shards);
    return { kind: 'published', id: task.id, bytes };
  } catch (err) {
    return failed(task.id, err);
  }
}

/**
 * This process's view of the shards, merged with the manifest in place: the
 * processes of a cluster (or nodes sharing the directory) each write the
 * shards they changed, so for each shard the latest writing counts.
 */
async function mergedShards(task: IndexTopTask): Promise<ShardSummary[]> {
  let onDisk: Manifest | undefined;
  try {
    onDisk = JSON.parse(await readFile(join(task.publishDir, SHARD_PAGES, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return task.shards;
  }
  if (onDisk.shards !== task.shards.length || !Array.isArray(onDisk.written)) return task.shards;
  return task.shards.map((mine, k) => {
    const theirs = onDisk.written[k];
    return theirs && theirs.shard === k && theirs.writtenAt > mine.writtenAt ? theirs : mine;
  });
}

/** Shard files of another layout (PUBLISH_INDEX_SHARDS changed): gone once the new top is written. */
async function removeOtherShards(dir: string, shards: number): Promise<void> {
  const current = new Set(Array.from({ length: shards }, (_, k) => shardName(k, shards)));
  for (const [sub, ext] of [[SHARD_PAGES, '.html'], [SHARD_SITEMAPS, '.xml']] as const) {
    const names = await readdir(join(dir, sub)).catch(() => [] as string[]);
    for (const name of names) {
      const shard = name.endsWith(ext) ? name.slice(0, -ext.length) : undefined;
      if (shard !== undefined && /^\d+$/.test(shard) && !current.has(shard)) await rm(join(dir, sub, name), { force: true });
    }
  }
}
