// `npm run republish`: renders every stored entry's page again from the
// database (after a template change, say), on the updater pool, then the
// index. Prints a progress line (count, rate, ETA) while it works.
import { countRecords, listRecords } from '../db/entry-listings.js';
import { openDatabase } from '../db/knex.js';
import { migrateDatabase } from '../db/migrate.js';
import { createUpdaterPool } from '../workers/pool.js';
import { loadConfigForCli, type Config } from './config/config.js';
import { createLogger } from './log.js';
import { createPageIndex } from './publishing/page-index.js';

const PAGE_SIZE = 200;
const PROGRESS_EVERY_MS = 500;

function progressLine(done: number, total: number, failed: number, startedAt: number): string {
  const seconds = (performance.now() - startedAt) / 1000;
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : '?';
  const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
  return `republished ${done}/${total} pages (${percent}%) · ${rate.toFixed(0)} pages/s · ETA ${eta} s${failed ? ` · ${failed} failed` : ''}`;
}

async function republish(config: Config): Promise<number> {
  const logger = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
  await migrateDatabase(config.database);
  const db = openDatabase(config.database, config.databasePool);
  const pool = createUpdaterPool(config.updater);
  const tty = process.stderr.isTTY;
  try {
    const total = await countRecords(db);
    const startedAt = performance.now();
    let done = 0;
    let failed = 0;
    let lastPrint = 0;
    const print = (final = false) => {
      const line = progressLine(done, total, failed, startedAt);
      process.stderr.write(tty && !final ? `\r${line}` : `${tty ? '\r' : ''}${line}\n`);
      lastPrint = performance.now();
    };
    // Keep every worker slot busy, no more: the pool's queue stays free.
    const inFlight = config.updater.maxWorkers * config.updater.tasksPerWorker;
    let after = '';
    for (;;) {
      const page = await listRecords(db, after, PAGE_SIZE);
      if (page.length === 0) break;
      after = (page.at(-1) as { id: string }).id;
      for (let i = 0; i < page.length; i += inFlight) {
        const results = await Promise.all(
          page.slice(i, i + inFlight).map((r) =>
            pool.run({ kind: 'publish', id: r.id, record: r.record, fetchedAt: r.fetchedAt, publishDir: config.publish.dir }),
          ),
        );
        for (const result of results) {
          done++;
          if (result.kind === 'failed') {
            failed++;
            logger.error({ id: result.id, why: result.message }, 'page not republished');
          }
        }
        if (performance.now() - lastPrint >= PROGRESS_EVERY_MS) print();
      }
    }
    await createPageIndex({ db, pool, config, logger }).write();
    print(true);
    process.stderr.write(`wrote ${done - failed} pages and the index to ${config.publish.dir}\n`);
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
