// A refresh stored by one node reaches the memory tiers of the others at
// once — Postgres LISTEN/NOTIFY, sent by a trigger in the storing statement —
// instead of each node serving its older copy until its own TTL. Two
// services on one Postgres (a server of this test's own, in the SQLite half
// of the suite too) stand for two nodes; each holds the entry fresh in memory.
import { expect } from 'chai';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { startTestService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'an-operator-token-of-some-length';

const titleOn = async (service: TestService, id: string) =>
  ((await (await service.get(`/entries/${id}`)).json()) as { data: { title: string } }).data.title;

describe('a refresh stored by another node', function () {
  this.timeout(60_000);
  let pg: PostgresServer;
  let upstream: TestUpstream;
  let a: TestService;
  let b: TestService;

  before(async () => {
    pg = await startPostgresServer();
    upstream = await startTestUpstream();
    const database = { url: pg.url, client: 'postgres' as const, drop: async () => undefined };
    const env = { ADMIN_TOKEN: TOKEN, ENTRY_TTL_SECONDS: '300' };
    a = await startTestService(upstream.url, { env, database });
    b = await startTestService(upstream.url, { env, database });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await upstream?.close();
    pg?.destroy();
  });

  it("reaches this node's memory tier at once, not after the TTL", async () => {
    upstream.set('x1', { record: record('x1', { title: 'first' }) });
    expect(await titleOn(a, 'x1')).to.equal('first');
    expect(await titleOn(b, 'x1')).to.equal('first');
    const held = await b.get('/entries/x1');
    expect(held.headers.get('cache-status')).to.match(/^freshen; hit/);

    upstream.set('x1', { record: record('x1', { title: 'second' }) });
    const asked = await fetch(`${a.url}/entries/x1/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(asked.status).to.equal(202);
    await waitFor(async () => (await titleOn(a, 'x1')) === 'second', 'node A to store the refresh', 10_000);
    // B held `first` fresh for 300 s; it answers `second` now, as a hit from the copy.
    await waitFor(async () => (await titleOn(b, 'x1')) === 'second', "node B to drop its copy", 5000);
    expect(upstream.count('x1')).to.equal(2);
  });
});
