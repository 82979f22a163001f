// Two nodes on one Postgres, one of them with its clock 40 s ahead (Debian's
// faketime): leases, claims and fetched-at are kept in the database's time,
// so single flight holds, no mail is sent twice, and the fast node writes no
// fetched-at in the future. The database is a Postgres server of this test's
// own (SQLite has no clock of its own to agree on: it runs in each process).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openDatabase, type Knex } from '../db/knex.js';
import { migrate } from '../db/migrate.js';
import * as outbox from '../db/outbox.js';
import { useFreshenProcesses, type FreshenProcess } from './support/freshen-process.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { startTestSmtp, type TestSmtp } from './support/smtp.js';
import { record } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const SKEW = '+40s';

describe('a node whose clock is 40 s ahead', function () {
  this.timeout(90_000);
  const fleet = useFreshenProcesses('skew');
  let pg: PostgresServer;
  let smtp: TestSmtp;
  let db: Knex;
  let a: FreshenProcess;
  let b: FreshenProcess;
  let urlA: string;
  let urlB: string;

  before(async () => {
    const probe = spawnSync('faketime', ['-f', SKEW, 'date', '+%s'], { encoding: 'utf8' });
    expect(probe.status, 'faketime (Debian package faketime) is needed').to.equal(0);
    expect(Number(probe.stdout) - Date.now() / 1000).to.be.within(35, 45);
    pg = await startPostgresServer();
    db = openDatabase({ client: 'postgres', url: pg.url });
    await migrate(db);
    smtp = await startTestSmtp();
    // Each message takes a while: a mailer's claims are live while the other node's mailers look.
    smtp.dataDelayMs = 50;
    const env = {
      DATABASE_URL: pg.url,
      SMTP_URL: smtp.url,
      MAIL_SWEEP_SECONDS: '0.2',
      MAIL_CLAIM_SECONDS: '5',
      SMTP_TIMEOUT_SECONDS: '1',
      MAIL_BATCH_SIZE: '10',
      ENTRY_TTL_SECONDS: '30',
    };
    a = fleet.start(env);
    b = fleet.start({ ...env, FAKETIME_DONT_FAKE_MONOTONIC: '1' }, ['faketime', '-f', SKEW]);
    [urlA, urlB] = await Promise.all([a.listening(), b.listening()]);
  });
  after(async () => {
    await db?.destroy();
    await smtp?.close();
    pg?.destroy();
  });

  it('knows its clock is off, and keeps to the database’s', () => {
    expect(b.output()).to.include("this node's clock differs from the database's");
    expect(a.output()).not.to.include("this node's clock differs from the database's");
  });

  it('does not take a live lease of the other node: one upstream request for a miss read on both', async () => {
    const upstream = fleet.upstream();
    upstream.set('sk1', { record: record('sk1'), delayMs: 1500 });
    const first = fetch(`${urlA}/entries/sk1`);
    await waitFor(() => upstream.count('sk1') === 1, 'node A to fetch sk1');
    const second = await fetch(`${urlB}/entries/sk1`);
    expect(second.status).to.equal(200);
    expect(second.headers.get('cache-status')).to.equal('freshen; fwd=miss; collapsed');
    expect((await first).status).to.equal(200);
    expect(upstream.count('sk1')).to.equal(1);
  });

  it('writes fetched-at in the database’s time: what it fetched is not fresh for longer elsewhere', async () => {
    const upstream = fleet.upstream();
    upstream.set('sk2', { record: record('sk2') });
    const viaB = (await (await fetch(`${urlB}/entries/sk2`)).json()) as { fetchedAt: string };
    expect(Math.abs(Date.parse(viaB.fetchedAt) - Date.now())).to.be.below(5000);
    const onA = await fetch(`${urlA}/entries/sk2`);
    expect(onA.headers.get('cache-status')).to.match(/^freshen; hit; ttl=(29|30)$/);
    expect(onA.headers.get('age')).to.be.oneOf(['0', '1']);
  });

  it('sends each message once while the mailers of both nodes drain the outbox together', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const messageId = `<skew-${i}-${randomBytes(4).toString('hex')}@example.test>`;
      ids.push(messageId);
      await outbox.enqueue(
        db,
        { kind: 'test', recipients: ['ops@example.test'], subject: `skew ${i}`, text: 't', html: '<p>t</p>', dedupeKey: `skew-${i}`, messageId },
        Date.now(),
        0,
      );
    }
    await waitFor(async () => (await outbox.outboxStats(db, Date.now())).counts.sent === 60, 'every message to be sent', 60_000);
    const delivered = smtp.received.map((r) => r.mail.messageId).filter((id) => id?.startsWith('<skew-'));
    expect(delivered.toSorted()).to.deep.equal(ids.toSorted());
  });
});
