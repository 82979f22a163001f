// A refresh stored by one node reaches the memory tiers of the others at
// once — Postgres LISTEN/NOTIFY, sent by a trigger in the storing statement —
// instead of each node serving its older copy until its own TTL; and a node
// whose listening connection was cut drops its copies once it listens again,
// as it may have missed what was stored meanwhile. Two services on one
// Postgres (a server of this test's own, in the SQLite half of the suite too)
// stand for two nodes; each holds the entry fresh in memory. Node B connects
// as a role of its own, so that the test can cut B's connections alone.
import { expect } from 'chai';
import knexModule from 'knex';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { startTestService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'an-operator-token-of-some-length';
const knex = knexModule as unknown as typeof knexModule.knex;

const titleOn = async (service: TestService, id: string) =>
  ((await (await service.get(`/entries/${id}`)).json()) as { data: { title: string } }).data.title;

describe('a refresh stored by another node', function () {
  this.timeout(60_000);
  let pg: PostgresServer;
  let upstream: TestUpstream;
  let a: TestService;
  let b: TestService;
  let admin: ReturnType<typeof knex>;

  before(async () => {
    pg = await startPostgresServer();
    admin = knex({ client: 'pg', connection: pg.url, pool: { min: 0, max: 1 } });
    await admin.raw('create role node_b login superuser');
    upstream = await startTestUpstream();
    const database = { url: pg.url, client: 'postgres' as const, drop: async () => undefined };
    const asB = new URL(pg.url);
    asB.username = 'node_b';
    const env = { ADMIN_TOKEN: TOKEN, ENTRY_TTL_SECONDS: '300' };
    a = await startTestService(upstream.url, { env, database });
    b = await startTestService(upstream.url, { env, database: { ...database, url: asB.toString() } });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await upstream?.close();
    await admin?.destroy();
    pg?.destroy();
  });

  /** Node B's listening connections (its pool's run other statements). */
  const listenersOfB = async () =>
    Number(
      ((await admin.raw("select count(*) as n from pg_stat_activity where usename = 'node_b' and application_name = 'freshen-listen'")) as { rows: Array<{ n: string }> })
        .rows[0]?.n,
    );

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

  it('drops its copies once it listens again after its listening connection was cut: what was stored meanwhile is not missed', async () => {
    upstream.set('x2', { record: record('x2', { title: 'first' }) });
    // B fetches and stores it itself, so it holds it in memory at once: a copy
    // read from A's store could still be dropped by A's notice arriving late.
    expect(await titleOn(b, 'x2')).to.equal('first');
    expect(await titleOn(a, 'x2')).to.equal('first');
    expect((await b.get('/entries/x2')).headers.get('cache-status')).to.match(/^freshen; hit/);
    expect(b.freshness.peek('x2'), "B's memory holds it").not.to.equal(undefined);
    await waitFor(async () => (await listenersOfB()) === 1 || undefined, "node B's listening connection");

    // B can open no connection now; its listening one is cut (its pool's stay).
    await admin.raw('alter role node_b nologin');
    await admin.raw("select pg_terminate_backend(pid) from pg_stat_activity where usename = 'node_b' and application_name = 'freshen-listen'");
    await waitFor(async () => (await listenersOfB()) === 0 || undefined, "node B's listener cut");

    // Meanwhile node A stores a new version: its notice reaches nobody on B.
    upstream.set('x2', { record: record('x2', { title: 'second' }) });
    const asked = await fetch(`${a.url}/entries/x2/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(asked.status).to.equal(202);
    await waitFor(async () => (await titleOn(a, 'x2')) === 'second', 'node A to store the refresh', 10_000);
    expect(await listenersOfB()).to.equal(0);
    expect(await titleOn(b, 'x2')).to.equal('first');

    // B may connect again: once it listens, it answers from the copy, not its old memory.
    await admin.raw('alter role node_b login');
    await waitFor(async () => (await listenersOfB()) === 1 || undefined, 'node B to listen again', 20_000);
    await waitFor(async () => (await titleOn(b, 'x2')) === 'second', 'node B to drop its copy', 5000);
    expect(upstream.count('x2')).to.equal(2);
  });
});
