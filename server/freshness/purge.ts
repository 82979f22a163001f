// Purges, asked for by an operator (POST /admin/purge) or by the upstream
// itself (a signed webhook): the entries named by id, or carrying any of the
// tags named (found through the tag index), are marked stale — served stale
// while the next read refreshes them, as a CDN's soft purge — or dropped.
// However many match, the work goes in bounded batches, each its own short
// statement; after each, this process drops its memory copies and tells the
// other processes once (Postgres: one row and one NOTIFY; SQLite: the cluster
// primary), and a dropped entry's page is taken down.
import type { Logger } from 'pino';
import { announcePurge, drop, markStale } from '../../db/entry-purges.js';
import { taggedIds } from '../../db/entry-tags.js';
import { isPostgres, type Db } from '../../db/knex.js';
import type { FreshnessPolicy } from '../../shared/freshness-policy.js';

/** Entries one batch touches at most. */
export const PURGE_BATCH = 1000;
/** A long purge says how far it got this often. */
const PROGRESS_MS = 5000;

export type PurgeRequest = {
  source: string;
  /** Drop the entries instead of marking them stale. */
  hard: boolean;
  /** Who asked, for the log. */
  by: 'admin' | 'webhook';
  requestId?: string;
} & ({ ids: readonly string[] } | { tags: readonly string[] });

export interface PurgeResult {
  /** Entries marked stale or dropped. */
  matched: number;
  batches: number;
  ms: number;
}

export interface Purger {
  purge(request: PurgeRequest): Promise<PurgeResult>;
}

export function createPurger(deps: {
  db: Db;
  logger: Logger;
  /** The freshness policy of each source (a soft purge sets when its entries turn stale). */
  policy: (source: string) => FreshnessPolicy;
  /** The database's clock. */
  now: () => number;
  /** This process's memory copies of these entries go. */
  forget: (source: string, ids: readonly string[]) => void;
  /** A dropped entry's page goes (the page repair takes it down). */
  pageGone: (source: string, id: string) => void;
  /** SQLite under a cluster: the other workers are told (Postgres tells them itself). */
  announce?: (source: string, ids: readonly string[], hard: boolean) => void;
  /** Told of each purge's end (metrics). */
  observe?: (by: PurgeRequest['by'], how: 'soft' | 'hard', entries: number) => void;
}): Purger {
  const { db, logger } = deps;

  async function batch(source: string, ids: readonly string[], hard: boolean): Promise<number> {
    const touched = hard ? await drop(db, source, ids) : await markStale(db, source, ids, deps.now(), deps.policy(source));
    if (touched.length === 0) return 0;
    deps.forget(source, touched);
    if (hard) for (const id of touched) deps.pageGone(source, id);
    if (isPostgres(db)) await announcePurge(db, source, touched, hard, deps.now());
    else deps.announce?.(source, touched, hard);
    return touched.length;
  }

  return {
    async purge(request) {
      const started = performance.now();
      const { source, hard } = request;
      let matched = 0;
      let batches = 0;
      let said = started;
      const step = async (ids: readonly string[]) => {
        matched += await batch(source, ids, hard);
        batches++;
        if (performance.now() - said >= PROGRESS_MS) {
          said = performance.now();
          logger.info({ source, matched, batches, requestId: request.requestId }, 'purging');
        }
      };
      if ('ids' in request) {
        for (let i = 0; i < request.ids.length; i += PURGE_BATCH) await step(request.ids.slice(i, i + PURGE_BATCH));
      } else {
        // Tag by tag, through the index; an entry with several of the tags is purged (and counted) once.
        for (const [n, tag] of request.tags.entries()) {
          const skip = request.tags.slice(0, n);
          let after = '';
          for (;;) {
            const ids = await taggedIds(db, { source, tag, after, skip, limit: PURGE_BATCH });
            if (ids.length > 0) await step(ids);
            if (ids.length < PURGE_BATCH) break;
            after = ids.at(-1) as string;
          }
        }
      }
      const ms = Math.round(performance.now() - started);
      deps.observe?.(request.by, hard ? 'hard' : 'soft', matched);
      const what = 'ids' in request ? { ids: request.ids.length } : { tags: request.tags };
      logger.info({ source, ...what, hard, by: request.by, matched, batches, ms, requestId: request.requestId }, hard ? 'entries purged (dropped)' : 'entries purged (marked stale)');
      return { matched, batches, ms };
    },
  };
}
