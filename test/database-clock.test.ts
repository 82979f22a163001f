// The database's clock as each process keeps it (db/clock.ts), on each
// database: read from the database at start, then counted on with the
// monotonic clock, so a step of the node's wall clock after start (NTP, an
// operator) changes nothing of leases, claims and fetched-at.
import { expect } from 'chai';
import { startDbClock, type DbClock } from '../db/clock.js';
import type { Knex } from '../db/knex.js';
import { isPostgres, rawRows } from '../db/knex.js';
import { migratedDatabase } from './support/database.js';

describe('the database clock', () => {
  let db: Knex;
  let close: (() => Promise<void>) | undefined;
  let clock: DbClock | undefined;
  const realNow = Date.now;

  before(async () => {
    ({ db, close } = await migratedDatabase());
  });
  afterEach(() => {
    Date.now = realNow;
    clock?.stop();
  });
  after(async () => {
    await close?.();
  });

  /** The database's time now, read directly (Postgres's server clock; SQLite's is the OS clock, not Date.now). */
  async function databaseNow(): Promise<number> {
    const sql = isPostgres(db)
      ? 'select (extract(epoch from clock_timestamp()) * 1000)::float8 as now'
      : "select (julianday('now') - 2440587.5) * 86400000.0 as now";
    return Number(rawRows<{ now: number }>(db, await db.raw(sql))[0]?.now);
  }

  it("keeps the database's time when the node's wall clock is stepped an hour after start", async () => {
    clock = await startDbClock(db, { refreshMs: 3_600_000 });
    const before = clock.now();
    expect(Math.abs(before - (await databaseNow()))).to.be.below(1000);
    // The node's clock jumps forward an hour (and back, below): the process keeps counting from the database.
    Date.now = () => realNow() + 3_600_000;
    expect(Math.abs(clock.now() - (await databaseNow()))).to.be.below(1000);
    Date.now = () => realNow() - 3_600_000;
    expect(Math.abs(clock.now() - (await databaseNow()))).to.be.below(1000);
    expect(clock.now()).to.be.at.least(before);
  });
});
