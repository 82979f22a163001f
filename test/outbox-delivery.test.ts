// Delivery survives a down SMTP server and a killed mailer: messages wait in
// the outbox, are retried with backoff, and go out exactly once (but for the
// one that was mid-transfer when its mailer died).
import { expect } from 'chai';
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import * as outbox from '../db/outbox.js';
import type { Knex } from '../db/knex.js';
import { startMailSetup, testMessage, type MailSetup } from './support/mail-setup.js';
import type { TestSmtp } from './support/smtp.js';
import { startTestUpstream, type TestUpstream } from './support/upstream.js';
import { startTestService, type TestService } from './support/service.js';
import { waitFor } from './support/wait.js';

describe('outbox delivery', () => {
  let smtp: TestSmtp;
  let service: TestService;
  let db: Knex;
  let setup: MailSetup;

  before(async () => {
    setup = await startMailSetup({ ADMINS: 'ops@example.test', MAIL_CLAIM_SECONDS: '4', MAIL_BATCH_SIZE: '20' });
    ({ smtp, service, db } = setup);
  });
  after(() => setup?.stop());

  const rows = async (tag: string) => (await outbox.listMessages(db, 500)).filter((m) => m.dedupeKey.startsWith(`${tag}:`));

  it('keeps messages pending while SMTP is down, retries with backoff, and delivers them when it is back, with no new traffic', async function () {
    this.timeout(30_000);
    await smtp.down();
    for (let n = 0; n < 3; n++) await outbox.enqueue(db, testMessage(n, 'down'), Date.now(), 3_600_000);
    service.mailers.kick();

    // Tried, failed, and given back with a growing wait.
    const tried = await waitFor(async () => {
      const r = await rows('down');
      return r.some((m) => m.attempts >= 2) ? r : undefined;
    }, 'a second attempt', 10_000);
    for (const m of tried) {
      expect(m.state).to.be.oneOf(['pending', 'sending']);
      expect(m.lastError ?? '').to.match(/ECONNREFUSED|connect/i);
    }
    expect(smtp.received).to.have.length(0);

    await smtp.up();
    await waitFor(async () => (await rows('down')).every((m) => m.state === 'sent'), 'delivery after SMTP is back', 20_000);
    const subjects = smtp.received.map((r) => r.mail.subject).filter((s) => s?.startsWith('down'));
    expect(subjects.toSorted()).to.deep.equal(['down 0', 'down 1', 'down 2']);
  });

  it('delivers every message of a batch whose mailer was killed with SIGKILL mid-batch, none twice but the one in transfer', async function () {
    this.timeout(30_000);
    smtp.dataDelayMs = 150;
    const before = smtp.received.length;
    for (let n = 0; n < 12; n++) await outbox.enqueue(db, testMessage(n, 'kill'), Date.now(), 3_600_000);
    service.mailers.kick();
    await waitFor(() => smtp.received.length >= before + 2, 'the mailer to be mid-batch', 10_000);
    const [pid] = service.mailers.stats().pids;
    expect(pid).to.be.a('number');
    process.kill(pid as number, 'SIGKILL');

    await waitFor(async () => (await rows('kill')).every((m) => m.state === 'sent'), 'every message sent', 20_000);
    smtp.dataDelayMs = 0;
    const got = smtp.received.slice(before).map((r) => r.mail.messageId);
    for (let n = 0; n < 12; n++) expect(got, `kill-${n}`).to.include(`<kill-${n}@example.test>`);
    const twice = got.filter((id, i) => got.indexOf(id) !== i);
    expect(twice.length).to.be.at.most(1);
    expect(service.mailers.stats().failed).to.be.at.least(1);
  });
});

describe('mail on the embedded defaults', () => {
  let upstream: TestUpstream;
  let service: TestService;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'freshen-mail-'));
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url, {
      env: { MAIL_DIR: dir, CONTENT_TEAM: 'content@example.test', MAIL_SWEEP_SECONDS: '0.2' },
    });
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes each message as an .eml file under MAIL_DIR when SMTP_URL is unset', async () => {
    upstream.set('eml1', { record: { id: 'eml1', title: 'No body' } });
    expect((await service.get('/entries/eml1')).status).to.equal(502);
    const files = await waitFor(async () => {
      const names = (await readdir(dir)).filter((f) => f.endsWith('.eml'));
      return names.length > 0 ? names : undefined;
    }, 'an .eml file');
    expect(files).to.have.length(1);
    const mail = await simpleParser(await readFile(join(dir, files[0] as string)));
    expect(mail.subject).to.equal('[freshen] Entry eml1 “No body” has invalid data');
    expect(mail.text).to.include("the record must have required property 'body'");
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });
});

describe('a mailer past its time limit', () => {
  let setup: MailSetup;
  before(async () => {
    setup = await startMailSetup({
      ADMINS: 'ops@example.test',
      // Time enough to start and claim on a busy machine.
      MAIL_PROCESS_TIMEOUT_SECONDS: '2',
      // SMTP waits past the process's limit and its 2 s grace, so the kill comes first.
      SMTP_TIMEOUT_SECONDS: '5',
      MAIL_CLAIM_SECONDS: '16',
    });
  });
  after(() => setup?.stop());

  it('is killed, and the message it held is delivered by a later mailer', async function () {
    this.timeout(45_000);
    const { smtp, service, db } = setup;
    smtp.dataDelayMs = 8000; // the SMTP server holds the message past the mailer's limit
    await outbox.enqueue(db, testMessage(0, 'slow'), Date.now(), 3_600_000);
    service.mailers.kick();
    await waitFor(() => service.mailers.stats().failed >= 1, 'the mailer to be killed', 15_000);
    smtp.dataDelayMs = 0;
    // Once its claim expires.
    await waitFor(async () => (await outbox.listMessages(db, 10)).every((m) => m.state === 'sent'), 'delivery', 25_000);
    expect(smtp.received.map((r) => r.mail.messageId)).to.include('<slow-0@example.test>');
  });
});
