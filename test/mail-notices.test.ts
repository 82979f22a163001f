// Invalid upstream data notifies the content team once, through the outbox
// and a mailer child process, to a real SMTP server whose messages are parsed
// back. The server process itself never speaks SMTP.
import { expect } from 'chai';
import { connect } from 'node:net';
import * as outbox from '../db/outbox.js';
import type { Knex } from '../db/knex.js';
import { startMailSetup, type MailSetup } from './support/mail-setup.js';
import type { TestSmtp } from './support/smtp.js';
import { record, type TestUpstream } from './support/upstream.js';
import type { TestService } from './support/service.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'a-long-enough-admin-token';

describe('notices about invalid upstream data', () => {
  let upstream: TestUpstream;
  let smtp: TestSmtp;
  let service: TestService;
  let db: Knex;
  let setup: MailSetup;

  before(async () => {
    setup = await startMailSetup({
      MAIL_FROM: 'freshen@example.test',
      CONTENT_TEAM: 'content@example.test, editor@example.test',
      ADMINS: 'ops@example.test',
      ADMIN_TOKEN: TOKEN,
    });
    ({ upstream, smtp, service, db } = setup);
  });
  after(() => setup?.stop());

  /** Every message handed to a mailer is sent (or dead), and no mailer runs. */
  const outboxSettled = async () => {
    const { counts } = await outbox.outboxStats(db, Date.now());
    return counts.pending === 0 && counts.sending === 0 && service.mailers.stats().running === 0;
  };

  const refresh = (id: string) => fetch(`${service.url}/entries/${id}/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
  const resolvedNotices = () => smtp.received.filter((r) => r.mail.subject === '[freshen] Entry inv1 is valid again');

  it('sends the content team exactly one message for 100 concurrent reads of an invalid entry, who all get the friendly page', async () => {
    upstream.set('inv1', { record: record('inv1', { title: 'Broken entry', tags: 'news', updatedAt: 'soon' }) });
    const answers = await Promise.all(
      Array.from({ length: 100 }, async () => {
        const res = await service.get('/entries/inv1', { Accept: 'text/html' });
        return { status: res.status, text: await res.text() };
      }),
    );
    expect(answers.every((a) => a.status === 502)).to.equal(true);
    expect(answers.every((a) => a.text.includes('This entry cannot be shown right now'))).to.equal(true);
    expect(answers.some((a) => a.text.includes('must be'))).to.equal(false);

    await waitFor(() => smtp.received.length >= 1, 'the message', 10_000);
    await waitFor(outboxSettled, 'the outbox to settle', 10_000);
    expect(smtp.received).to.have.length(1);
    const { mail, rcptTo, mailFrom } = smtp.received[0]!;
    expect(rcptTo.toSorted()).to.deep.equal(['content@example.test', 'editor@example.test']);
    expect(mailFrom).to.equal('freshen@example.test');
    expect(mail.subject).to.equal('[freshen] Entry inv1 “Broken entry” has invalid data');
    expect(mail.text).to.include('/tags must be array');
    expect(mail.text).to.include('/updatedAt must match format "date-time"');
    expect(mail.text).to.include(`${upstream.origin}/items/inv1`);
    expect(mail.text).to.match(/Seen at: +\d{4}-\d\d-\d\dT/);
    expect(mail.html).to.include('<li>/tags must be array</li>');
    expect(upstream.count('inv1')).to.equal(1);
  });

  it('does not send it again for the same problems within the cool-down', async () => {
    const res = await fetch(`${service.url}/entries/inv1/refresh`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).to.equal(202);
    await waitFor(() => upstream.count('inv1') === 2, 'the second refresh');
    await waitFor(async () => (await service.get('/entries/inv1')).status === 502, 'the refresh to be recorded');
    await waitFor(outboxSettled, 'the outbox to settle', 10_000);
    expect(smtp.received).to.have.length(1);
  });

  it('tells the team when a good entry turns invalid, and keeps serving the good one', async () => {
    upstream.set('turn', { record: record('turn', { title: 'Good' }) });
    expect((await service.get('/entries/turn')).status).to.equal(200);
    upstream.set('turn', { record: record('turn', { title: 'Bad', related: ['not an id'] }) });
    await fetch(`${service.url}/entries/turn/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    await waitFor(() => smtp.received.some((r) => r.mail.subject?.includes('turn')), 'the notice', 10_000);
    const res = await service.get('/entries/turn');
    expect(res.status).to.equal(200);
    expect(await res.text()).to.include('"title":"Good"');
  });

  it('tells the team once when an entry they were told was invalid is valid again', async () => {
    upstream.set('inv1', { record: record('inv1', { title: 'Mended entry' }) });
    await refresh('inv1');
    await waitFor(async () => (await service.get('/entries/inv1')).status === 200, 'the valid record');
    const got = await waitFor(() => resolvedNotices()[0], 'the resolved notice', 10_000);
    expect(got.rcptTo.toSorted()).to.deep.equal(['content@example.test', 'editor@example.test']);
    expect(got.mail.text).to.include(`${upstream.origin}/items/inv1`);
    expect(got.mail.text).to.include('/tags must be array');

    // Valid again and again: no more news. Invalid in the same way and valid again within the cool-down: none either.
    await refresh('inv1');
    await waitFor(() => (upstream.count('inv1') === 4 && !service.freshness.refreshing('inv1')) || undefined, 'another refresh');
    upstream.set('inv1', { record: record('inv1', { title: 'Broken entry', tags: 'news', updatedAt: 'soon' }) });
    await refresh('inv1');
    await waitFor(() => (upstream.count('inv1') === 5 && !service.freshness.refreshing('inv1')) || undefined, 'the invalid refresh to be recorded');
    upstream.set('inv1', { record: record('inv1', { title: 'Mended entry' }) });
    await refresh('inv1');
    await waitFor(() => upstream.count('inv1') === 6, 'the last refresh');
    await waitFor(outboxSettled, 'the outbox to settle', 10_000);
    expect(resolvedNotices()).to.have.length(1);
  });

  it('tells the team it is valid again though another failure came between the invalid data and the good record', async () => {
    const before = resolvedNotices().length;
    /** Refresh by hand, and wait until that refresh is recorded. */
    const refreshed = async (what: string) => {
      const asked = upstream.count('inv1') + 1;
      await refresh('inv1');
      await waitFor(() => (upstream.count('inv1') === asked && !service.freshness.refreshing('inv1')) || undefined, what);
    };
    // Problems of another kind than before: not within the earlier notices' cool-down.
    upstream.set('inv1', { record: record('inv1', { title: 'Broken again', updatedAt: 'later' }) });
    await refreshed('the invalid data recorded');
    // The upstream is down for a while: a failure of another kind replaces "invalid" on the row.
    upstream.set('inv1', { status: 503 });
    await refreshed('the outage recorded');
    upstream.set('inv1', { record: record('inv1', { title: 'Mended at last' }) });
    await refreshed('the good record');
    await waitFor(() => resolvedNotices().length > before || undefined, 'the resolved notice', 10_000);
    expect(resolvedNotices().at(-1)?.mail.text).to.include('/updatedAt must match format');
  });

  it('keeps upstream text from adding headers to the message', async () => {
    upstream.set('inject', {
      record: record('inject', { title: 'Hello\r\nBcc: attacker@evil.test\r\nX-Injected: yes', tags: 7 }),
    });
    expect((await service.get('/entries/inject')).status).to.equal(502);
    const got = await waitFor(() => smtp.received.find((r) => r.mail.subject?.includes('inject')), 'the notice', 10_000);
    expect(got.mail.headers.has('bcc')).to.equal(false);
    expect(got.mail.headers.has('x-injected')).to.equal(false);
    expect(got.rcptTo.toSorted()).to.deep.equal(['content@example.test', 'editor@example.test']);
    expect(got.mail.subject).to.equal('[freshen] Entry inject “Hello Bcc: attacker@evil.test X-Injected: yes” has invalid data');
    expect(got.raw).not.to.match(/^Bcc:/m);
    expect(got.raw).not.to.match(/^X-Injected:/m);
  });

  it('shows operators the outbox', async () => {
    const denied = await service.get('/admin/outbox');
    expect(denied.status).to.equal(401);
    // The SMTP server has a message a moment before its mailer marks it sent.
    await waitFor(outboxSettled, 'the outbox to settle', 10_000);
    const res = await service.get('/admin/outbox', { Authorization: `Bearer ${TOKEN}` });
    expect(res.status).to.equal(200);
    const view = (await res.json()) as { counts: Record<string, number>; recent: Array<{ state: string; subject: string }> };
    expect(view.counts.sent).to.equal(smtp.received.length);
    expect(view.recent[0]?.subject).to.include('inject');
  });

  it('never opened an SMTP connection from the server process', () => {
    expect(smtp.connections.length).to.be.greaterThan(0);
    expect(smtp.connections.filter((c) => c.fromThisProcess)).to.deep.equal([]);
    expect(service.mailers.stats().spawned).to.be.greaterThan(0);
  });

  it('would have seen a connection from the server process (the check above can fail)', async () => {
    const socket = connect(smtp.port, '127.0.0.1');
    await waitFor(() => smtp.connections.at(-1)?.fromThisProcess, 'the connection from this process');
    socket.destroy();
  });
});
