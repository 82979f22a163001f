// Publishing an entry's page after a refresh: a publish task on the updater
// pool (rendered and written off the main thread), started once the refresh is
// stored and never awaited by a reader. One entry's pages are written in the
// order of its refreshes; the pool's writer also refuses an older fetch.
import type { Logger } from 'pino';
import type { UpdaterPool } from '../../workers/pool.js';
import { hasOwnPage } from '../../shared/entry-id.js';

export interface PagePublisher {
  /** Publish the entry's page (record null: the entry is gone, remove its page). */
  publish(id: string, record: string | Uint8Array | null, fetchedAt: number): void;
  /** Resolves when every page write under way has ended. */
  settled(): Promise<void>;
}

export function createPagePublisher(deps: {
  pool: UpdaterPool;
  publishDir: string;
  logger: Logger;
  /** Told when a page was written or removed. */
  published?: (id: string) => void;
}): PagePublisher {
  const { pool, publishDir, logger } = deps;
  // By entry: each write waits for the one before.
  const writing = new Map<string, Promise<void>>();

  async function write(id: string, record: string | Uint8Array | null, fetchedAt: number): Promise<void> {
    try {
      const page = await pool.run({ kind: 'publish', id, record, fetchedAt, publishDir });
      if (page.kind === 'published' || page.kind === 'removed') deps.published?.(id);
      else if (page.kind === 'failed') logger.warn({ id, why: page.message }, 'page not published');
    } catch (err) {
      // The pool is full: the entry's next refresh publishes it.
      logger.warn({ id, why: (err as Error).message }, 'page not published');
    }
  }

  return {
    publish(id, record, fetchedAt) {
      if (!hasOwnPage(id)) return;
      // After setImmediate: the reader waiting on this refresh is answered
      // before the record is copied to a worker for its page.
      const next = (writing.get(id) ?? new Promise((resolve) => setImmediate(resolve))).then(() => write(id, record, fetchedAt));
      writing.set(id, next);
      // write() answers every failure itself; whatever else, nothing is left unhandled.
      const done = () => {
        if (writing.get(id) === next) writing.delete(id);
      };
      void next.then(done, done);
    },
    settled: async () => {
      await Promise.allSettled(writing.values());
    },
  };
}
