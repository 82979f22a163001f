// `npm run republish`: renders every stored entry's page (of every source) again from the
// database (after a template change, say), on the updater pool, in keyset
// pages of records (bounded memory), then every shard of the index. Prints a
// progress line (count, rate, ETA against the table's estimated size) while
// it works.
import { estimateRows } from '../db/bulk.js';
import { listRecords } from '../db/entry-listings.js';
import { openEntryReads } from '../db/entry-reads.js';
import { openDatabase } from '../db/knex.js';
import { migrateDatabase } from '../db/migrate.js';
import { createUpdaterPool } from '../workers/pool.js';
import { loadConfigForCli, type Config } from './config/config.js';
import { sourcesOf } from './config/sources.js';
import { createLogger } from './log.js';
import { createPageIndex } from './publishing/page-index.js';

const PAGE_SIZE = 200;
const PROGRESS_EVERY_MS = 500;

/** `total`: the table's estimate (it counts rows with no record too), so the line says about, and the last line says what was done. */
function progressLine(done: number, total: number, failed: number, startedAt: number, final: boolean): string {
  const seconds = (performance.now() - startedAt) / 1000;
  const rate = seconds > 0 ? done / seconds : 0;
  const tail = `${rate.toFixed(0)} pages/s${failed ? ` · ${failed} failed` : ''}`;
  if (final) return `republished ${done} pages in ${seconds.toFixed(1)} s · ${tail}`;
  const left = Math.max(0, total - done);
  const eta = rate > 0 ? `${Math.ceil(left / rate)} s` : '?';
  const percent = total > 0 ? Math.min(99, Math.floor((done / total) * 100)) : 0;
  return `republished ${done} of about ${total} pages (${percent}%) · ${tail} · ETA ${eta}`;
}

async function republish(config: Config): Promise<number> {
  const logger = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
  await migrateDatabase(config.database);
  const db = openDatabase(config.database, config.databasePool);
  const pool = createUpdaterPool(config.updater);
  const tty = process.stderr.isTTY;
  try {
    // Estimated, not counted: a count would read the whole table first.
    const total = await estimateRows(db, 'entries');
    const startedAt = performance.now();
    let done = 0;
    let failed = 0;
    let lastPrint = 0;
    const print = (final = false) => {
      const line = progressLine(done, total, failed, startedAt, final);
      process.stderr.write(tty && !final ? `\r${line}` : `${tty ? '\r' : ''}${line}\n`);
      lastPrint = performance.now();
    };
    // Keep every worker slot busy, no more: the pool's queue stays free.
    const inFlight = config.updater.maxWorkers * config.updater.tasksPerWorker;
    const reads = await openEntryReads(config.database, db, 1);
    try {
      for (const source of sourcesOf(config)) {
        const { dir } = source.config.publish;
        const paths = { pages: source.pagesPath, entries: source.path };
        let after = '';
        for (;;) {
          const page = await listRecords(db, source.name, after, PAGE_SIZE);
          if (page.length === 0) break;
          after = (page.at(-1) as { id: string }).id;
          for (let i = 0; i < page.length; i += inFlight) {
            const results = await Promise.all(
              page.slice(i, i + inFlight).map((r) => pool.run({ kind: 'publish', id: r.id, record: r.record, hash: r.hash, fetchedAt: r.fetchedAt, publishDir: dir, paths })),
            );
            for (const result of results) {
              done++;
              if (result.kind === 'failed') {
                failed++;
                logger.error({ source: source.name, id: result.id, why: result.message }, 'page not republished');
              }
            }
            if (performance.now() - lastPrint >= PROGRESS_EVERY_MS) print();
          }
        }
        await createPageIndex({ source: source.name, paths, rows: reads, pool, config: source.config, logger }).rebuild();
      }
    } finally {
      await reads.close();
    }
    print(true);
    process.stderr.write(`wrote ${done - failed} pages and the index${config.sources === undefined ? '' : ' of each source'} to ${config.publish.dir}\n`);
    return failed > 0 ? 1 : 0;
  } finally {
    await pool.close();
    await db.destroy();
  }
}

async function main(): Promise<number> {
  const config = loadConfigForCli();
  return config ? republish(config) : 2;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`freshen republish failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
