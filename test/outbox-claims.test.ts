// Claims that hold on both databases: while the server enqueues, several
// claimers (each on its own connection, as mailer processes are) take batches
// concurrently; none fails on a busy database and no message is taken twice.
import { expect } from 'chai';
import * as outbox from '../db/outbox.js';
import { openDatabase, type Knex } from '../db/knex.js';
import { migrate } from '../db/migrate.js';
import { loadConfig } from '../server/config/config.js';
import { freshDatabase, type TestDatabase } from './support/database.js';

describe('outbox claims', () => {
  let database: TestDatabase;
  const connections: Knex[] = [];

  before(async () => {
    database = await freshDatabase();
    const config = loadConfig({ DATABASE_URL: database.url });
    for (let i = 0; i < 4; i++) connections.push(openDatabase(config.database));
    await migrate(connections[0] as Knex);
  });
  after(async () => {
    await Promise.all(connections.map((c) => c.destroy()));
    await database?.drop();
  });

  it('hands every message to exactly one of several concurrent claimers while messages are enqueued', async function () {
    this.timeout(60_000);
    const total = 300;
    const [server, ...mailers] = connections as [Knex, ...Knex[]];
    let enqueued = false;
    const enqueue = (async () => {
      for (let n = 0; n < total; n += 10) {
        await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            outbox.enqueue(
              server,
              {
                kind: 'test',
                recipients: ['a@example.test'],
                subject: `m${n + i}`,
                text: 't',
                html: 'h',
                dedupeKey: `claims:${n + i}`,
                messageId: `<m${n + i}@example.test>`,
              },
              Date.now(),
              3_600_000,
            ),
          ),
        );
      }
      enqueued = true;
    })();
    const taken: number[][] = mailers.map(() => []);
    const claimers = mailers.map(async (db, k) => {
      const owner = `claimer-${k}`;
      for (;;) {
        const batch = await outbox.claimBatch(db, { owner, now: Date.now(), claimMs: 60_000, limit: 7 });
        for (const m of batch) {
          taken[k]?.push(m.id);
          await outbox.markSent(db, m.id, owner, Date.now());
        }
        if (batch.length === 0 && enqueued && (await outbox.countDue(db, Date.now())) === 0) return;
      }
    });
    await Promise.all([enqueue, ...claimers]);

    const all = taken.flat();
    expect(all).to.have.length(total);
    expect(new Set(all).size).to.equal(total);
    expect(taken.filter((t) => t.length > 0).length).to.be.at.least(2);
    const { counts } = await outbox.outboxStats(server, Date.now());
    expect(counts).to.deep.equal({ pending: 0, sending: 0, sent: total, dead: 0 });
  });

  it('queues one message for many concurrent enqueues of the same key within the cool-down', async () => {
    const notice = {
      kind: 'test',
      recipients: ['a@example.test'],
      subject: 's',
      text: 't',
      html: 'h',
      dedupeKey: 'same-key',
      messageId: '<same@example.test>',
    };
    const results = await Promise.all(
      connections.flatMap((db) => Array.from({ length: 10 }, () => outbox.enqueue(db, notice, Date.now(), 3_600_000))),
    );
    expect(results.filter(Boolean)).to.have.length(1);
    // Past the cool-down, the same key queues again.
    expect(await outbox.enqueue(connections[0] as Knex, notice, Date.now() + 3_600_001, 3_600_000)).to.equal(true);
  });
});
