// An unexpected error in a request answers 500 with the friendly page and
// tells the admins, once per error fingerprint within the cool-down.
import { expect } from 'chai';
import * as outbox from '../db/outbox.js';
import type { Knex } from '../db/knex.js';
import { startMailSetup, type MailSetup } from './support/mail-setup.js';
import type { TestSmtp } from './support/smtp.js';
import type { TestService } from './support/service.js';
import { waitFor } from './support/wait.js';

describe('server errors', () => {
  let smtp: TestSmtp;
  let service: TestService;
  let db: Knex;
  let setup: MailSetup;

  before(async () => {
    setup = await startMailSetup({ ADMINS: 'ops@example.test, oncall@example.test' });
    ({ smtp, service, db } = setup);
    // Break the database under the running service: every read of an entry throws.
    await db.schema.dropTable('entries');
  });
  after(() => setup?.stop());

  it('answers 500 with the friendly page and mails the admins once per fingerprint (the error code, not its words)', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await service.get('/entries/a1', { Accept: 'text/html' });
      expect(res.status).to.equal(500);
      const page = await res.text();
      expect(page).to.include('Something went wrong');
      expect(page).not.to.match(/entries"|no such table|    at /);
    }
    for (let i = 0; i < 3; i++) {
      expect((await service.get('/entries?ids=a1,a2')).status).to.equal(500);
    }
    // Both routes fail with the same error code where the same statement runs:
    // one notice, though the two statements' words (their SQL) differ.
    await waitFor(async () => {
      const { counts } = await outbox.outboxStats(db, Date.now());
      return counts.sent === 1 && counts.pending === 0 && counts.sending === 0 && smtp.received.length === 1;
    }, 'one message', 10_000);
    expect(smtp.received).to.have.length(1);
    const requests = smtp.received.map((r) => /Request: +(.*)/.exec(r.mail.text ?? '')?.[1]);
    expect(requests).to.deep.equal(['GET /entries/a1']);
    for (const { mail, rcptTo } of smtp.received) {
      expect(rcptTo.toSorted()).to.deep.equal(['oncall@example.test', 'ops@example.test']);
      expect(mail.subject).to.match(/^\[freshen\] \w+: /);
      // The error as thrown (its stack; a driver error may carry no frames).
      expect(mail.text).to.include(`${(mail.subject ?? '').replace('[freshen] ', '')}`);
      expect(mail.text).to.match(/Fingerprint: +[0-9a-f]{16}/);
    }
  });
});

describe('a database failure while refreshing', () => {
  let smtp: TestSmtp;
  let service: TestService;
  let db: Knex;
  let setup: MailSetup;

  before(async () => {
    setup = await startMailSetup({ ADMINS: 'ops@example.test' });
    ({ smtp, service, db } = setup);
    // Reads still work; claiming a refresh lease (a write) fails.
    await db.schema.alterTable('entries', (t) => t.renameColumn('lease_generation', 'lease_generation_gone'));
  });
  after(() => setup?.stop());

  it('is a server error (500, the admins told), not an upstream that is slow', async () => {
    const res = await service.get('/entries/w1');
    expect(res.status).to.equal(500);
    expect(res.headers.get('retry-after')).to.equal(null);
    expect(((await res.json()) as { type: string }).type).to.equal('urn:freshen:problem:internal');
    await waitFor(() => smtp.received.length === 1 && smtp.received, 'the admins’ message', 10_000);
    expect(smtp.received[0]?.mail.text).to.include('GET /entries/w1');
  });
});
