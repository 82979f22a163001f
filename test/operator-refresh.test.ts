// An operator's refresh asked of one process while another process holds the
// entry's lease (it is refreshing it right now): the request is left on the
// row, and the holder refreshes again when its refresh ends — it is not
// answered 202 and then dropped. Two services on one database stand for two
// processes: their own memory tiers, pools and in-flight maps; only SQL is shared.
import { expect } from 'chai';
import { startTestService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'an-operator-token-of-some-length';

const titleOn = async (service: TestService, id: string) =>
  ((await (await service.get(`/entries/${id}`)).json()) as { data: { title: string } }).data.title;

describe("an operator's refresh while another process holds the lease", () => {
  let upstream: TestUpstream;
  let a: TestService;
  let b: TestService;

  before(async () => {
    upstream = await startTestUpstream();
    const env = { ADMIN_TOKEN: TOKEN, ENTRY_TTL_SECONDS: '300' };
    a = await startTestService(upstream.url, { env });
    b = await startTestService(upstream.url, { env, database: a.database });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await upstream?.close();
  });

  it('is carried out by the holder once its refresh ends', async () => {
    upstream.set('op1', { record: record('op1', { title: 'first' }), delayMs: 800 });
    const reading = a.get('/entries/op1');
    await waitFor(() => upstream.count('op1') === 1, 'process A to fetch op1');
    // The upstream changes after A's fetch began: only a second fetch sees it.
    upstream.set('op1', { record: record('op1', { title: 'second' }) });
    const asked = await fetch(`${b.url}/entries/op1/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(asked.status).to.equal(202);
    expect((await reading).status).to.equal(200);

    await waitFor(async () => (await titleOn(a, 'op1')) === 'second', 'the requested refresh to land', 10_000);
    expect(await titleOn(b, 'op1')).to.equal('second');
    expect(upstream.count('op1')).to.equal(2);
  });

  it('is refreshed once however many requests arrive while the lease is held', async () => {
    upstream.set('op2', { record: record('op2', { title: 'first' }), delayMs: 800 });
    const reading = a.get('/entries/op2');
    await waitFor(() => upstream.count('op2') === 1, 'process A to fetch op2');
    upstream.set('op2', { record: record('op2', { title: 'second' }) });
    for (let i = 0; i < 5; i++) {
      const asked = await fetch(`${b.url}/entries/op2/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(asked.status).to.equal(202);
    }
    await reading;
    await waitFor(async () => (await titleOn(a, 'op2')) === 'second', 'the requested refresh to land', 10_000);
    expect(upstream.count('op2')).to.equal(2);
  });
});
