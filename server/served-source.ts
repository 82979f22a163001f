// One source as a process serves it: its pages (written after each refresh,
// listed in the index's shards, repaired where this node's disagree with the
// copy: README, Published pages) and its freshness check, with its own
// policy, breaker, caps, memory tier and content team.
import type { Logger } from 'pino';
import type { EntryReads } from '../db/entry-reads.js';
import type { Db } from '../db/knex.js';
import { DEFAULT_SOURCE } from '../shared/sources.js';
import type { UpdaterPool } from '../workers/pool.js';
import type { Source } from './config/sources.js';
import { createFreshness, upstreamOrigin, type Freshness } from './freshness/freshness.js';
import type { Notifier } from './notices/notifier.js';
import { createPageIndex, type PageIndex } from './publishing/page-index.js';
import { createPagePublisher, type PagePublisher } from './publishing/page-publisher.js';
import { createPageRepair, type PageRepair } from './publishing/page-repair.js';

/** A source as this process serves it: its settings, its freshness check, its pages. */
export interface ServedSource extends Source {
  /** The URL template its refreshes fetch. */
  upstreamUrl: string;
  freshness: Freshness;
  pages: PagePublisher;
  pageIndex: PageIndex;
  pageRepair: PageRepair;
}

export interface SharedParts {
  db: Db;
  rows: EntryReads;
  pool: UpdaterPool;
  notifier: Notifier;
  logger: Logger;
  /** Are there other sources (the log names this one)? */
  several: boolean;
  upstreamUrl: string;
  /** The clock of the freshness check and of the pages' fetch times. */
  now: () => number;
  observeRefresh: (outcome: string, seconds: number) => void;
  onDatabaseUnavailable: (err: unknown) => void;
  onStored: ((id: string) => void) | undefined;
}

/** The source's parts, and the stops of its pages in the order they are to be pushed (they run reversed); its check is closed by the caller. */
export function serveSource(source: Source, shared: SharedParts): { served: ServedSource; stops: Array<() => Promise<void>> } {
  const { db, rows, pool, logger, upstreamUrl } = shared;
  const own = source.config;
  const paths = { pages: source.pagesPath, entries: source.path };
  const pageIndex = createPageIndex({ source: source.name, paths, rows, pool, config: own, logger });
  const repair: { check?: (id: string) => void } = {};
  const pages = createPagePublisher({
    pool,
    publishDir: own.publish.dir,
    paths,
    logger,
    published: (id) => pageIndex.changed(id),
    failed: (id) => repair.check?.(id),
  });
  const pageRepair = createPageRepair({
    source: source.name,
    db,
    pool,
    pages,
    publishDir: own.publish.dir,
    logger,
    sweepEveryMs: own.publish.repairEveryMs,
    now: shared.now,
  });
  repair.check = (id) => pageRepair.check(id);
  if (own.mail.contentTeam.length === 0) {
    logger.warn(shared.several ? `source ${source.name} has no content team: nobody is told about its invalid data` : 'CONTENT_TEAM is empty: nobody is told about invalid upstream data');
  }
  const freshness = createFreshness({
    source: source.name,
    db,
    rows,
    pool,
    config: own,
    upstreamUrl,
    // Two sources on one origin have a breaker each.
    breakerKey: source.name === DEFAULT_SOURCE ? undefined : `${upstreamOrigin(upstreamUrl)} (${source.name})`,
    logger,
    notifier: shared.notifier.forSource(source.name, own.mail.contentTeam),
    pages,
    observeRefresh: shared.observeRefresh,
    now: shared.now,
    onDatabaseUnavailable: shared.onDatabaseUnavailable,
    onStored: shared.onStored,
  });
  return {
    served: { ...source, upstreamUrl, freshness, pages, pageIndex, pageRepair },
    stops: [() => pageIndex.close(), () => pageRepair.stop()],
  };
}
