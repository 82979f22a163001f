// Keeps the published index current in shards (workers/index-pages.ts): a
// published or removed page marks its entry's shard, and at most every
// PUBLISH_INDEX_SECONDS the marked shards are read back — each one indexed
// range of the entries table, bounded — and rewritten on the pool, then the
// top of the index. A change rewrites its shard, never the whole index. At
// start, a directory with no index of this layout (PUBLISH_INDEX_SHARDS) gets
// every shard built, one at a time, with a progress line.
import type { PagePaths } from '../../shared/publish-layout.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { listShard } from '../../db/entry-shards.js';
import type { EntryReads } from '../../db/entry-reads.js';
import { MANIFEST, SHARD_PAGES, shardKeyOf, shardOf } from '../../shared/publish-layout.js';
import { indexBlocks, SHARD_MAX_ENTRIES, type Manifest } from '../../workers/index-pages.js';
import { PoolFullError, type UpdaterPool } from '../../workers/pool.js';
import type { ShardSummary } from '../../workers/protocol.js';
import type { Config } from '../config/config.js';

export interface PageIndex {
  /** An entry's page was written or removed: its shard is rewritten soon. */
  changed(id: string): void;
  /**
   * Reads the index in place; builds every shard in the background when it is
   * missing or of another layout. `listening`: this server's URL, for the
   * sitemaps when PUBLIC_URL is unset. `build`: false in all but one process
   * of a cluster (they share the directory).
   */
  start(listening?: string, build?: boolean): Promise<void>;
  /** Writes every shard and the top now (npm run republish). */
  rebuild(): Promise<void>;
  /** Stop scheduling; wait for a rewrite under way. */
  close(): Promise<void>;
}

// How often a long build says how far it got.
const PROGRESS_MS = 5000;

/** `rows`: where shards are read (off SQLite's write connection). */
export function createPageIndex(deps: {
  /** The source whose entries' pages it indexes. */
  source: string;
  /** Where the source's pages and entries are served (the links its index carries). */
  paths?: PagePaths;
  rows: Pick<EntryReads, 'all'>;
  pool: UpdaterPool;
  config: Config;
  logger: Logger;
}): PageIndex {
  const { rows: reads, pool, config, logger } = deps;
  const { dir, indexShards: shards, indexDelayMs } = config.publish;
  // PUBLIC_URL, else where this server listens (set at start), else HOST:PORT.
  let publicUrl = config.publish.publicUrl ?? `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const summaries: ShardSummary[] = Array.from({ length: shards }, (_, shard) => ({ shard, entries: 0, writtenAt: 0 }));
  const dirty = new Set<number>();
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let closed = false;
  // The directory holds an index of another layout, whose files the next top removes.
  let staleLayout = false;

  /** Rewrites the marked shards, then the top; a shard the pool had no room for stays marked. */
  async function flush(build = false): Promise<void> {
    const todo = [...dirty].toSorted((a, b) => a - b);
    dirty.clear();
    const startedAt = performance.now();
    let lastProgress = startedAt;
    let entries = 0;
    let written = 0;
    for (const [i, shard] of todo.entries()) {
      if (closed) return;
      const rows = await listShard(reads, deps.source, shard, shards, SHARD_MAX_ENTRIES + 1);
      // Empty, and known to be (or never written): no file to write or remove.
      if (rows.length === 0 && (summaries[shard] as ShardSummary).entries === 0) continue;
      const truncated = rows.length > SHARD_MAX_ENTRIES;
      if (truncated) logger.warn({ shard, shards }, 'an index shard holds more entries than its page lists: raise PUBLISH_INDEX_SHARDS');
      const listed = truncated ? rows.slice(0, SHARD_MAX_ENTRIES) : rows;
      let result;
      try {
        result = await pool.run({ kind: 'index-shard', id: `index-${shard}`, shard, shards, entries: indexBlocks(listed), truncated, publishDir: dir, publicUrl, paths: deps.paths });
      } catch (err) {
        if (!(err instanceof PoolFullError)) throw err;
        // The pool is busy with refreshes: these shards wait for the next round.
        for (const later of todo.slice(i)) dirty.add(later);
        schedule();
        break;
      }
      if (result.kind === 'failed') {
        logger.warn({ shard, why: result.message }, 'an index shard was not written');
        dirty.add(shard);
        continue;
      }
      summaries[shard] = { shard, entries: rows.length, writtenAt: Date.now() };
      entries += rows.length;
      written++;
      if (build && performance.now() - lastProgress >= PROGRESS_MS) {
        lastProgress = performance.now();
        logger.info({ shards: `${i + 1}/${todo.length}`, entries }, 'building the page index');
      }
      // Claims and stores get the database between shards.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Nothing listed, nothing to list: a new directory of an empty copy gets its top with the first entry.
    if (written === 0 && !staleLayout) return;
    staleLayout = false;
    const top = await pool.run({ kind: 'index-top', id: 'index', shards: summaries, publishDir: dir, publicUrl, paths: deps.paths }).catch((err: unknown) => {
      if (err instanceof PoolFullError) return { kind: 'failed', message: err.message } as const;
      throw err;
    });
    if (top.kind === 'failed') logger.warn({ why: top.message }, 'the top of the page index was not written');
    if (build) logger.info({ shards: todo.length, entries, seconds: Math.round((performance.now() - startedAt) / 1000) }, 'page index built');
  }

  function run(build = false): Promise<void> {
    const next = (writing ?? Promise.resolve())
      .then(() => flush(build))
      .catch((err: unknown) => logger.error({ err }, 'the page index was not written'));
    const current = next.finally(() => {
      if (writing === current) writing = undefined;
    });
    writing = current;
    return current;
  }

  function schedule(): void {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, indexDelayMs);
    timer.unref();
  }

  return {
    changed(id) {
      dirty.add(shardOf(shardKeyOf(id), shards));
      schedule();
    },
    async start(listening, build = true) {
      if (config.publish.publicUrl === undefined && listening !== undefined) publicUrl = listening;
      const manifest = await readManifest(dir);
      if (manifest?.shards === shards && manifest.written.length === shards) {
        manifest.written.forEach((s, k) => (summaries[k] = s));
        return;
      }
      if (!build) return;
      staleLayout = manifest !== undefined;
      logger.info({ shards, dir }, 'no page index of this layout here yet: building it');
      for (let k = 0; k < shards; k++) dirty.add(k);
      void run(true);
    },
    rebuild() {
      for (let k = 0; k < shards; k++) dirty.add(k);
      return run(true);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await writing;
    },
  };
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(dir, SHARD_PAGES, MANIFEST), 'utf8')) as Manifest;
    return Number.isInteger(manifest.shards) && Array.isArray(manifest.written) ? manifest : undefined;
  } catch {
    return undefined;
  }
}
