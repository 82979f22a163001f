// Dead letters handled from /admin/outbox: a message a real SMTP server
// refused for good is listed with its last error, put back in the queue (and
// delivered once, however often the retry is asked) or deleted (and never
// delivered), only with the Bearer token, each shown with the request that asked.
import { expect } from 'chai';
import { startTestService, type TestService } from './support/service.js';
import { startTestSmtp, type TestSmtp } from './support/smtp.js';
import { startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'a-dead-letter-operator-token';
const bearer = { authorization: `Bearer ${TOKEN}` };

interface OutboxView {
  dead: Array<{ id: number; subject: string; lastError: string | null }>;
  recent: Array<{ id: number; state: string }>;
  actions: Array<{ action: string; id: number; requestId: string }>;
}

describe('dead letters handled from /admin/outbox', function () {
  this.timeout(30_000);
  let upstream: TestUpstream;
  let smtp: TestSmtp;
  let service: TestService;

  before(async () => {
    upstream = await startTestUpstream();
    smtp = await startTestSmtp();
    service = await startTestService(upstream.url, {
      env: { SMTP_URL: smtp.url, CONTENT_TEAM: 'team@example.org', ADMIN_TOKEN: TOKEN, SMTP_TIMEOUT_SECONDS: '2', MAIL_CLAIM_SECONDS: '7', SHUTDOWN_TIMEOUT_SECONDS: '5' },
    });
  });
  after(async () => {
    await service?.stop();
    await smtp?.close();
    await upstream?.close();
  });

  const outbox = async (): Promise<OutboxView> => (await (await service.get('/admin/outbox', bearer)).json()) as OutboxView;
  const post = (path: string, headers: Record<string, string> = bearer) => fetch(`${service.url}${path}`, { method: 'POST', headers });
  const del = (path: string, headers: Record<string, string> = bearer) => fetch(`${service.url}${path}`, { method: 'DELETE', headers });
  const deliveredAbout = (id: string) => smtp.received.filter((r) => (r.mail.subject ?? '').includes(`Entry ${id}`)).length;

  it('lists a refused message as dead, sends it once when retried twice, and never sends one deleted', async () => {
    // Two entries with invalid data: two notices to the content team, both refused for good.
    smtp.fault = 'reject';
    for (const id of ['dl1', 'dl2']) {
      upstream.set(id, { record: { id } });
      expect((await service.get(`/entries/${id}`)).status).to.equal(502);
    }
    const dead = await waitFor(async () => {
      const o = await outbox();
      return o.dead.length === 2 ? o.dead : undefined;
    }, 'both notices dead');
    for (const m of dead) expect(m.lastError).to.match(/550|mailbox unavailable/);
    const [retried, dropped] = ['dl1', 'dl2'].map((id) => dead.find((m) => m.subject.includes(`Entry ${id}`))?.id as number);

    // Only the Bearer token changes state; a message id is a number.
    expect((await post(`/admin/outbox/${retried}/retry`, { authorization: `Basic ${Buffer.from(`op:${TOKEN}`).toString('base64')}` })).status).to.equal(401);
    expect((await post(`/admin/outbox/${retried}/retry`, {})).status).to.equal(401);
    expect((await post('/admin/outbox/abc/retry')).status).to.equal(400);
    expect((await post('/admin/outbox/999999/retry')).status).to.equal(404);
    expect(smtp.received).to.have.length(0);

    // The server takes mail again; the operator retries one, twice.
    smtp.fault = undefined;
    const first = await post(`/admin/outbox/${retried}/retry`, { ...bearer, 'x-request-id': 'op-retry-1' });
    expect(first.status).to.equal(202);
    expect(await first.json()).to.deep.equal({ id: retried, state: 'pending' });
    expect((await post(`/admin/outbox/${retried}/retry`)).status).to.equal(409);
    await waitFor(async () => (await outbox()).recent.find((m) => m.id === retried)?.state === 'sent', 'the retried message sent');
    expect((await post(`/admin/outbox/${retried}/retry`)).status).to.equal(409);

    // The other one deleted: gone, and never delivered.
    expect((await del(`/admin/outbox/${dropped}`, { ...bearer, 'x-request-id': 'op-delete-1' })).status).to.equal(204);
    expect((await del(`/admin/outbox/${dropped}`)).status).to.equal(404);
    const after = await outbox();
    expect(after.dead).to.have.length(0);
    expect(after.actions.map(({ action, id, requestId }) => ({ action, id, requestId }))).to.deep.equal([
      { action: 'delete', id: dropped, requestId: 'op-delete-1' },
      { action: 'retry', id: retried, requestId: 'op-retry-1' },
    ]);
    // A later notice goes through the same mailers: by the time it is delivered, nothing else is pending.
    upstream.set('dl3', { record: { id: 'dl3' } });
    await service.get('/entries/dl3');
    await waitFor(() => deliveredAbout('dl3') === 1, 'a later notice delivered');
    expect(deliveredAbout('dl1')).to.equal(1);
    expect(deliveredAbout('dl2')).to.equal(0);

    // The status page shows what was done, with the request that asked.
    const page = await (await service.get('/admin', { ...bearer, accept: 'text/html' })).text();
    expect(page).to.include('Dead letters');
    expect(page).to.include(`message ${retried} put back in the queue (request op-retry-1)`);
    expect(page).to.include(`message ${dropped} deleted (request op-delete-1)`);
  });
});
