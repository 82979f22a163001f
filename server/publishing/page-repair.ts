// Keeps this node's published pages in agreement with the copy, whichever node
// refreshed an entry: pages are checked by the hash of the record they were
// made from (not the fetch time, which every 304 moves) and written when
// missing or of another version; pages of entries with no record are removed.
// Ids come in three ways: a page that could not be written (the pool was
// full, the disk refused), a store heard from another node (LISTEN, or the
// cluster's primary), and a sweep of every stored record in keyset pages —
// soon after start, then every PUBLISH_REPAIR_SECONDS (0: no sweeps), and
// whenever more ids wait than the queue holds. Checks and writes run on the pool, a bounded
// batch at a time, only while the pool has room.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { listRecordHashes, recordHashesOf, recordsOf } from '../../db/entry-listings.js';
import type { Db } from '../../db/knex.js';
import { hasOwnPage } from '../../shared/entry-id.js';
import { PoolFullError, type UpdaterPool } from '../../workers/pool.js';
import type { PageState } from '../../db/entry-listings.js';
import type { PagePublisher } from './page-publisher.js';

export interface PageRepair {
  /** This entry's page may be missing or old here: check it soon. */
  check(id: string): void;
  /** Start taking up ids, and the sweeps (the first soon after start). */
  start(): void;
  stop(): Promise<void>;
}

/** Ids checked in one batch (one statement, one pool task). */
const BATCH = 500;
/** Ids waiting at most; past it, the next sweep covers them. */
const QUEUE_MAX = 10_000;
/** How often waiting ids are taken up. */
const TICK_MS = 1000;
/** The first sweep, after start: the service is warm, its own refreshes first. */
const FIRST_SWEEP_MS = 10_000;
/** Pages a repair writes at once: a few of the pool's slots, never its queue. */
const WRITES_AT_ONCE = 4;
/** Between two batches of a sweep: background work, paced. */
const SWEEP_PAUSE_MS = 100;

export function createPageRepair(deps: {
  /** The source whose entries' pages it keeps. */
  source: string;
  db: Db;
  pool: UpdaterPool;
  pages: PagePublisher;
  publishDir: string;
  logger: Logger;
  /** PUBLISH_REPAIR_SECONDS: between sweeps (0: none but those after an overflow). */
  sweepEveryMs: number;
  /** The database's clock: a page of an entry with no record, older than its 404 (or than now), is removed. */
  now: () => number;
}): PageRepair {
  const { db, pool, pages, publishDir, logger } = deps;
  const queue = new Set<string>();
  const stopping = new AbortController();
  let sweepWanted = false;
  let sweeping: Promise<void> | undefined;
  let running: Promise<void> | undefined;
  let first: NodeJS.Timeout | undefined;
  let every: NodeJS.Timeout | undefined;

  /** Waits; false once stopping (the wait is cut short). */
  const pause = (ms: number) => sleep(ms, undefined, { signal: stopping.signal, ref: false }).then(() => true, () => false);

  /** Checks these ids' pages against the copy; writes or removes what disagrees. Returns pages changed. */
  async function repair(ids: string[], known: Map<string, PageState>): Promise<number> {
    const checked = await pool.run({ kind: 'check-pages', id: 'check-pages', pages: ids.map((id) => ({ id, hash: known.get(id)?.hash ?? null })), publishDir });
    if (checked.kind === 'failed') throw new Error(checked.message);
    const records = await recordsOf(db, deps.source, checked.stale);
    const held = new Set(records.map((r) => r.id));
    const writes = [
      ...records.map((r) => () => pages.publish(r.id, r.record, r.hash, r.fetchedAt, 'repair')),
      // No record (now: the row may have changed since it was read): the page goes, unless newer than the 404.
      ...checked.stale.filter((id) => !held.has(id)).map((id) => () => pages.publish(id, null, null, known.get(id)?.fetchedAt ?? deps.now(), 'repair')),
    ];
    // A few at a time, and only while the pool has room: refreshes come first.
    for (let i = 0; i < writes.length; i += WRITES_AT_ONCE) {
      while (!pool.hasCapacity()) if (!(await pause(TICK_MS))) return i;
      await Promise.all(writes.slice(i, i + WRITES_AT_ONCE).map((write) => write()));
    }
    return checked.stale.length;
  }

  /** Ids heard of or failed: one batch. */
  async function takeUp(): Promise<void> {
    if (queue.size === 0 || !pool.hasCapacity()) return;
    const ids = [...queue].slice(0, BATCH);
    for (const id of ids) queue.delete(id);
    try {
      await repair(ids, await recordHashesOf(db, deps.source, ids));
    } catch (err) {
      for (const id of ids) check(id);
      if (!(err instanceof PoolFullError)) logger.warn({ why: (err as Error).message }, 'pages not checked; tried again');
    }
  }

  async function loop(): Promise<void> {
    while (await pause(TICK_MS)) {
      await takeUp();
      if (sweepWanted) sweep();
    }
  }

  /** Every entry's page, in keyset pages of ids, one batch at a time while the pool has room. */
  async function sweepAll(): Promise<void> {
    const startedAt = performance.now();
    let after = '';
    let checked = 0;
    let changed = 0;
    for (;;) {
      if (!pool.hasCapacity()) {
        if (!(await pause(TICK_MS))) return;
        continue;
      }
      const rows = await listRecordHashes(db, deps.source, after, BATCH);
      if (rows.length === 0) break;
      after = (rows.at(-1) as { id: string }).id;
      const batch = rows.filter((r) => hasOwnPage(r.id));
      changed += await repair(
        batch.map((r) => r.id),
        new Map(batch.map((r) => [r.id, r])),
      ).catch((err: unknown) => {
        if (!(err instanceof PoolFullError)) throw err;
        return 0;
      });
      checked += batch.length;
      if (!(await pause(SWEEP_PAUSE_MS))) return;
    }
    const seconds = Math.round((performance.now() - startedAt) / 1000);
    if (changed > 0) logger.info({ checked, changed, seconds }, 'published pages repaired');
    else logger.debug({ checked, seconds }, 'published pages checked: all agree with the copy');
  }

  function sweep(): void {
    if (stopping.signal.aborted || sweeping) return;
    sweepWanted = false;
    sweeping = sweepAll()
      .catch((err: unknown) => logger.warn({ why: (err as Error).message }, 'the page sweep stopped; the next one starts over'))
      .finally(() => {
        sweeping = undefined;
      });
  }

  function check(id: string): void {
    if (stopping.signal.aborted || !hasOwnPage(id)) return;
    if (queue.size >= QUEUE_MAX) {
      sweepWanted = true;
      return;
    }
    queue.add(id);
  }

  return {
    check,
    start() {
      running ??= loop();
      if (deps.sweepEveryMs === 0) return;
      first = setTimeout(() => {
        sweep();
        every = setInterval(sweep, deps.sweepEveryMs).unref();
      }, Math.min(FIRST_SWEEP_MS, deps.sweepEveryMs)).unref();
    },
    async stop() {
      stopping.abort();
      clearTimeout(first);
      clearInterval(every);
      await Promise.allSettled([running, sweeping]);
    },
  };
}
