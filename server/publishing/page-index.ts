// Keeps the index of published pages current without rewriting it on every
// refresh: a change schedules one rewrite at most every PUBLISH_INDEX_SECONDS,
// rendered and written on the pool like the pages themselves.
import type { Logger } from 'pino';
import { listTitles } from '../../db/entry-listings.js';
import type { Db } from '../../db/knex.js';
import type { UpdaterPool } from '../../workers/pool.js';
import type { Config } from '../config/config.js';

export interface PageIndex {
  /** A page was published: rewrite the index soon. */
  changed(): void;
  /** Rewrite it now. */
  write(): Promise<void>;
  /** Stop scheduling; wait for a rewrite under way. */
  close(): Promise<void>;
}

export function createPageIndex(deps: { db: Db; pool: UpdaterPool; config: Config; logger: Logger }): PageIndex {
  const { db, pool, config, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let closed = false;

  async function write(): Promise<void> {
    const entries = await listTitles(db);
    const result = await pool.run({ kind: 'index', id: 'index', entries, publishDir: config.publish.dir });
    if (result.kind === 'failed') logger.warn({ why: result.message }, 'the page index was not written');
  }

  function changed(): void {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      writing = write()
        .catch((err: unknown) => logger.error({ err }, 'the page index was not written'))
        .finally(() => {
          writing = undefined;
        });
    }, config.publish.indexDelayMs);
    timer.unref();
  }

  return {
    changed,
    write,
    async close() {
      closed = true;
      clearTimeout(timer);
      await writing;
    },
  };
}
