// A notice raised while the database is away is not lost: the notifier holds
// it in memory and writes it to the outbox once the database takes writes
// again. The database is a Postgres server of this test's own, stopped and
// started again — in the SQLite half of the suite too. The mailer launcher is
// replaced by a counter: sending is not what this test is about.
import { expect } from 'chai';
import pino from 'pino';
import { openDatabase, type Knex } from '../db/knex.js';
import { migrateDatabase } from '../db/migrate.js';
import * as outbox from '../db/outbox.js';
import { loadConfig } from '../server/config/config.js';
import { createNotifier, type Notifier } from '../server/notices/notifier.js';
import type { Mailers } from '../workers/mail/launcher.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { waitFor } from './support/wait.js';

describe('a notice raised while the database is away', function () {
  this.timeout(60_000);
  let pg: PostgresServer;
  let db: Knex;
  let notifier: Notifier | undefined;
  let kicks = 0;

  before(async () => {
    pg = await startPostgresServer();
    const config = loadConfig({ DATABASE_URL: pg.url, ADMINS: 'ops@example.test', DATABASE_ACQUIRE_TIMEOUT_MS: '500' });
    await migrateDatabase(config.database);
    db = openDatabase(config.database, config.databasePool);
    const mailers = { kick: () => void kicks++ } as unknown as Mailers;
    notifier = createNotifier({ db, config, mailers, logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), now: Date.now });
  });
  after(async () => {
    notifier?.stop();
    await db?.destroy();
    pg?.destroy();
  });

  it('is held in memory and written to the outbox when the database is back', async () => {
    pg.stop();
    const error = Object.assign(new Error('the disk is on fire'), { code: 'EONFIRE' });
    // The request that raised it is not held up, nor failed.
    await notifier?.serverError({ error, method: 'GET', url: '/entries/x' });
    expect(notifier?.held()).to.equal(1);
    expect(kicks).to.equal(0);

    pg.start();
    const rows = await waitFor(async () => {
      const all = await outbox.listMessages(db, 10).catch(() => []);
      return all.length > 0 ? all : undefined;
    }, 'the held notice in the outbox', 30_000);
    expect(rows).to.have.length(1);
    expect(rows[0]?.subject).to.include('the disk is on fire');
    expect(notifier?.held()).to.equal(0);
    expect(kicks).to.equal(1);
  });
});
