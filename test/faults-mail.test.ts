// SMTP faults, against a real SMTP server on loopback with short SMTP
// timeouts: a server that accepts and never greets, one that takes a message
// and never answers, one that drops the connection mid-message. Each message
// waits and is retried, and is delivered once the server behaves — twice at
// most when the server had it whole and never said so (the one message in
// transfer). And a database that goes away between a delivery and its record:
// the message is neither sent again nor marked dead.
import { expect } from 'chai';
import * as outbox from '../db/outbox.js';
import { openDatabase, type Knex } from '../db/knex.js';
import { startMailSetup, testMessage, type MailSetup } from './support/mail-setup.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { startTestService, type TestService } from './support/service.js';
import { startTestSmtp, type TestSmtp } from './support/smtp.js';
import { startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

describe('an SMTP server that misbehaves', function () {
  this.timeout(60_000);
  let setup: MailSetup;
  let smtp: TestSmtp;
  let db: Knex;

  before(async () => {
    setup = await startMailSetup({ ADMINS: 'ops@example.test', SMTP_TIMEOUT_SECONDS: '0.5', MAIL_CLAIM_SECONDS: '5' });
    ({ smtp, db } = setup);
  });
  afterEach(() => {
    smtp.fault = undefined;
  });
  after(() => setup?.stop());

  const rows = async (tag: string) => (await outbox.listMessages(db, 500)).filter((m) => m.dedupeKey.startsWith(`${tag}:`));
  const receivedIds = (tag: string) => smtp.received.map((r) => r.mail.messageId).filter((id) => id?.startsWith(`<${tag}-`));

  /** Enqueue `count` messages while SMTP has `fault`; once each was tried, let SMTP behave, and wait for them all. */
  async function throughFault(tag: string, fault: TestSmtp['fault'], count: number) {
    smtp.fault = fault;
    for (let n = 0; n < count; n++) await outbox.enqueue(db, testMessage(n, tag), Date.now(), 3_600_000);
    setup.service.mailers.kick();
    const tried = await waitFor(async () => {
      const r = await rows(tag);
      return r.some((m) => m.attempts >= 1 && m.lastError) ? r : undefined;
    }, 'a failed try', 15_000);
    for (const m of tried) expect(m.state, m.subject).to.be.oneOf(['pending', 'sending']);
    smtp.fault = undefined;
    const sent = await waitFor(async () => {
      const r = await rows(tag);
      return r.every((m) => m.state === 'sent') ? r : undefined;
    }, 'every message sent once SMTP behaves', 30_000);
    const got = receivedIds(tag);
    for (let n = 0; n < count; n++) expect(got, `${tag}-${n}`).to.include(`<${tag}-${n}@example.test>`);
    return { tried, sent, got };
  }

  it('retries a server that accepts and never greets, and delivers each message once when it answers again', async () => {
    const { tried, got } = await throughFault('silent', 'silent', 3);
    expect(tried.find((m) => m.lastError)?.lastError).to.match(/greeting|timeout/i);
    expect(got).to.have.length(3);
  });

  it('retries a server that drops the connection mid-message, and delivers each message once', async () => {
    const { tried, got } = await throughFault('drop', 'drop', 3);
    // Cut off mid-write or mid-read: which one, the timing decides.
    expect(tried.find((m) => m.lastError)?.lastError).to.match(/closed|connection|socket|EPIPE|ECONNRESET/i);
    expect(got).to.have.length(3);
  });

  it('retries a server that takes a message and never answers; only that one may arrive twice', async () => {
    const { tried, got } = await throughFault('hang', 'hang', 3);
    expect(tried.find((m) => m.lastError)?.lastError).to.match(/timeout/i);
    const twice = got.filter((id, i) => got.indexOf(id) !== i);
    expect(twice.length).to.be.at.most(1);
    expect(got.length).to.be.at.most(4);
  });
});

describe('a database that goes away between a delivery and its record', function () {
  this.timeout(90_000);
  let pg: PostgresServer;
  let upstream: TestUpstream;
  let smtp: TestSmtp;
  let service: TestService;
  let db: Knex;

  // A Postgres of this test's own, so that it can be stopped — in the SQLite half of the suite too.
  before(async () => {
    pg = await startPostgresServer();
    upstream = await startTestUpstream();
    smtp = await startTestSmtp();
    service = await startTestService(upstream.url, {
      database: { url: pg.url, client: 'postgres', drop: async () => undefined },
      // The claim is the time Postgres has to come back (a mailer records a
      // delivery only while it holds it): generous, on a busy machine.
      env: { SMTP_URL: smtp.url, SMTP_TIMEOUT_SECONDS: '4', MAIL_SWEEP_SECONDS: '0.2', MAIL_CLAIM_SECONDS: '30', DATABASE_ACQUIRE_TIMEOUT_MS: '500' },
    });
    db = openDatabase(service.config.database);
  });
  after(async () => {
    await db?.destroy();
    await service?.stop();
    await smtp?.close();
    await upstream?.close();
    pg?.destroy();
  });

  it('is not sent again, nor marked dead: it is recorded as sent once the database is back', async () => {
    // The SMTP server holds the message long enough to stop the database meanwhile.
    smtp.dataDelayMs = 2000;
    await outbox.enqueue(db, testMessage(0, 'dbgone'), Date.now(), 3_600_000);
    service.mailers.kick();
    await waitFor(() => smtp.dataEnded === 1, 'the message to be in transfer', 15_000);
    pg.stop();
    // Delivered while the database is away: the mailer cannot record it now.
    await waitFor(() => smtp.received.length === 1, 'the delivery', 10_000);
    smtp.dataDelayMs = 0;
    pg.start();
    const [row] = await waitFor(async () => {
      const r = await outbox.listMessages(db, 10).catch(() => []);
      return r[0]?.state === 'sent' ? r : undefined;
    }, 'the delivery to be recorded', 45_000);
    expect(row).to.include({ state: 'sent', attempts: 1 });
    // Past the claim, no other mailer took it again.
    await waitFor(() => service.mailers.stats().running === 0, 'the mailers to be done', 15_000);
    expect(smtp.received.map((r) => r.mail.messageId)).to.deep.equal(['<dbgone-0@example.test>']);
  });
});

describe('a mailer told to stop in the middle of a slow send', function () {
  this.timeout(60_000);
  let setup: MailSetup;

  before(async () => {
    // The SMTP server takes 3.5 s to accept a message: within SMTP_TIMEOUT_SECONDS, past 2 s.
    setup = await startMailSetup({ ADMINS: 'ops@example.test', SMTP_TIMEOUT_SECONDS: '5', MAIL_CLAIM_SECONDS: '20', SHUTDOWN_TIMEOUT_SECONDS: '10' });
    setup.smtp.dataDelayMs = 3500;
  });
  after(() => setup?.stop());

  it('finishes the message in hand within the shutdown bound, and records it sent: it does not go out again', async () => {
    const { smtp, db, service } = setup;
    await outbox.enqueue(db, testMessage(0, 'slow'), Date.now(), 3_600_000);
    service.mailers.kick();
    await waitFor(() => smtp.dataEnded === 1 || undefined, 'the message to reach the SMTP server', 10_000);
    // SIGTERM now, SIGKILL only at the bound: the send has its time.
    await service.mailers.stop(0, 9000);
    const [row] = (await outbox.listMessages(db, 10)).filter((m) => m.dedupeKey === 'slow:0');
    expect(row?.state).to.equal('sent');
    expect(smtp.received.filter((r) => r.mail.messageId === '<slow-0@example.test>')).to.have.length(1);
  });
});
