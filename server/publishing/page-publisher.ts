// Publishing an entry's page after a refresh: a publish task on the updater
// pool (rendered and written off the main thread), started once the refresh is
// stored and never awaited by a reader. One entry's pages are written in the
// order of its refreshes; the pool's writer also refuses an older fetch. A
// page that could not be written is handed to the repair (page-repair.ts).
import type { PagePaths } from '../../shared/publish-layout.js';
import type { Logger } from 'pino';
import { hasOwnPage } from '../../shared/entry-id.js';
import type { UpdaterPool } from '../../workers/pool.js';

/**
 * Why a page is published: a refresh stored a new record (written), a 304
 * (written only where missing or of another version), or the repair (the same).
 */
export type PageWhy = 'refresh' | 'revalidated' | 'repair';

/** What became of pages since start, for /metrics. */
export type PageCounts = Record<`written_after_${PageWhy}` | 'removed' | 'unchanged' | 'failed', number>;

export interface PagePublisher {
  /**
   * Publish the entry's page (record null: the entry is gone, remove its
   * page). Resolves once written, left alone or given up.
   */
  publish(id: string, record: string | Uint8Array | null, hash: string | null, fetchedAt: number, why?: PageWhy): Promise<void>;
  /** Resolves when every page write under way has ended. */
  settled(): Promise<void>;
  counts(): PageCounts;
}

const LOG_WINDOW_MS = 60_000;
const LOGGED_PER_WINDOW = 10;

export function createPagePublisher(deps: {
  pool: UpdaterPool;
  publishDir: string;
  /** Where the source's pages and entries are served (the links its pages carry). */
  paths?: PagePaths;
  logger: Logger;
  /** Told when a page was written or removed. */
  published?: (id: string) => void;
  /** Told when a page could not be written (the pool was full, the disk refused). */
  failed?: (id: string) => void;
}): PagePublisher {
  const { pool, publishDir, logger, paths } = deps;
  // By entry: each write waits for the one before.
  const writing = new Map<string, Promise<void>>();
  const counts: PageCounts = { written_after_refresh: 0, written_after_revalidated: 0, written_after_repair: 0, removed: 0, unchanged: 0, failed: 0 };

  // A directory that refuses every write would log a line per page: the
  // first few of a minute are logged, the rest counted into one line.
  let window = { start: 0, logged: 0, quiet: 0 };
  function failed(id: string, message: string, why: PageWhy): void {
    counts.failed++;
    const now = performance.now();
    if (now - window.start >= LOG_WINDOW_MS) {
      if (window.quiet > 0) logger.warn({ pages: window.quiet }, 'more pages not published in the last minute; they are tried again later');
      window = { start: now, logged: 0, quiet: 0 };
    }
    if (window.logged++ < LOGGED_PER_WINDOW) logger.warn({ id, why: message }, 'page not published; it is tried again later');
    else window.quiet++;
    // A repair's own failure waits for the next sweep, not for the next second.
    if (why !== 'repair') deps.failed?.(id);
  }

  async function write(id: string, record: string | Uint8Array | null, hash: string | null, fetchedAt: number, why: PageWhy): Promise<void> {
    try {
      // After a 304 or in a repair, a page of this very record is left alone.
      const page = await pool.run({ kind: 'publish', id, record, hash, fetchedAt, publishDir, paths, unlessCurrent: why !== 'refresh' });
      if (page.kind === 'published') counts[`written_after_${why}`]++;
      else if (page.kind === 'removed') counts.removed++;
      else if (page.kind === 'current' || page.kind === 'superseded') counts.unchanged++;
      if (page.kind === 'published' || page.kind === 'removed') deps.published?.(id);
      else if (page.kind === 'failed') failed(id, page.message, why);
    } catch (err) {
      // The pool is full: the repair tries again later.
      failed(id, (err as Error).message, why);
    }
  }

  return {
    publish(id, record, hash, fetchedAt, why = 'refresh') {
      if (!hasOwnPage(id)) return Promise.resolve();
      // After setImmediate: the reader waiting on this refresh is answered
      // before the record is copied to a worker for its page.
      const next = (writing.get(id) ?? new Promise((resolve) => setImmediate(resolve))).then(() => write(id, record, hash, fetchedAt, why));
      writing.set(id, next);
      // write() answers every failure itself; whatever else, nothing is left unhandled.
      const done = () => {
        if (writing.get(id) === next) writing.delete(id);
      };
      return next.then(done, done);
    },
    settled: async () => {
      await Promise.allSettled(writing.values());
    },
    counts: () => counts,
  };
}
