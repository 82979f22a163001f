// A database reached across a network that drops packets — not a clean
// refusal, as when a firewall, a NAT or a failover loses a connection: two
// nodes in network namespaces of their own on one Postgres; node B's packets
// to the database are dropped (iptables in its namespace) for longer than the
// statement timeout, the database restarts meanwhile, and node A stores a
// new version of an entry B holds. B answers what memory holds, and a miss
// with 503 within its bound; once its packets flow again it finds its dead
// connections out, listens again and answers the new version. Postgres half,
// one runtime: the runtime does not enter into it.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { openDatabase, type Knex } from '../db/knex.js';
import { migrate } from '../db/migrate.js';
import { useFreshenProcesses, type FreshenProcess } from './support/freshen-process.js';
import { createTestNetwork, type TestHost, type TestNetwork } from './support/netns.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'a-partition-operator-token';

async function titleOn(url: string, id: string): Promise<string | number> {
  const res = await fetch(`${url}/entries/${id}`);
  return res.status === 200 ? ((await res.json()) as { data: { title: string } }).data.title : res.status;
}

if (process.env.TEST_DATABASE_URL && process.env.TEST_UPDATER_RUNTIME !== 'process') {
  describe('a node whose packets to the database are dropped', function () {
    this.timeout(150_000);
    const fleet = useFreshenProcesses('partition');
    let network: TestNetwork;
    let pg: PostgresServer;
    let db: Knex;
    let upstream: TestUpstream;
    let a: { process: FreshenProcess; url: string };
    let b: { process: FreshenProcess; url: string; host: TestHost };

    before(async () => {
      network = createTestNetwork(2);
      pg = await startPostgresServer(undefined, { listen: [network.gateway], trust: network.cidr });
      db = openDatabase({ client: 'postgres', url: pg.url });
      await migrate(db);
      upstream = await startTestUpstream({ host: network.gateway });
      const env = {
        DATABASE_URL: pg.url.replace('127.0.0.1', network.gateway),
        UPSTREAM_URL: upstream.url,
        ENTRY_TTL_SECONDS: '300',
        DATABASE_STATEMENT_TIMEOUT_MS: '2000',
        DATABASE_ACQUIRE_TIMEOUT_MS: '2000',
        ADMIN_TOKEN: TOKEN,
      };
      const [hostA, hostB] = network.hosts as [TestHost, TestHost];
      const pa = fleet.start({ ...env, HOST: hostA.address }, hostA.wrap);
      const pb = fleet.start({ ...env, HOST: hostB.address }, hostB.wrap);
      a = { process: pa, url: await pa.listening() };
      b = { process: pb, url: await pb.listening(), host: hostB };
    });
    after(async () => {
      network?.destroy();
      await db?.destroy();
      await upstream?.close();
      pg?.destroy();
    });

    // Both ways: B sees nothing of the database, not even its restart (a half-open connection).
    const dropRules = () => [
      ['OUTPUT', '-p', 'tcp', '-d', network.gateway, '--dport', String(pg.port), '-j', 'DROP'],
      ['INPUT', '-p', 'tcp', '-s', network.gateway, '--sport', String(pg.port), '-j', 'DROP'],
    ];
    const iptables = (...args: string[]) => execFileSync(b.host.wrap[0] as string, [...b.host.wrap.slice(1), 'iptables', ...args]);

    it('answers from memory and 503 within its bounds while cut off, and catches up once its packets flow again', async () => {
      upstream.set('p1', { record: record('p1', { title: 'before' }) });
      upstream.set('p2', { record: record('p2', { title: 'missed' }) });
      await waitFor(() => /hearing other nodes’ refreshes by LISTEN/.test(b.process.output()) || undefined, 'node B to listen');
      // B stores p1 itself (so it holds it in memory: no other node's notice will drop it), then A reads it.
      expect(await titleOn(b.url, 'p1')).to.equal('before');
      expect(await titleOn(a.url, 'p1')).to.equal('before');

      for (const rule of dropRules()) iptables('-A', ...rule);
      try {
        // What memory holds is answered at once; a miss is answered 503 within its bounds, not left hanging.
        expect(await titleOn(b.url, 'p1')).to.equal('before');
        const started = performance.now();
        const miss = await fetch(`${b.url}/entries/p2`);
        const seconds = (performance.now() - started) / 1000;
        expect(miss.status).to.equal(503);
        expect(miss.headers.get('retry-after')).to.match(/^\d+$/);
        expect(seconds, 'the miss answered within the statement and acquire bounds').to.be.below(10);

        // The database restarts, and node A stores a new version B does not hear of.
        pg.stop();
        pg.start();
        upstream.set('p1', { record: record('p1', { title: 'after' }) });
        await waitFor(async () => (await fetch(`${a.url}/entries/p1/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } })).status === 202 || undefined, 'node A to take the refresh', 20_000);
        await waitFor(async () => (await titleOn(a.url, 'p1')) === 'after', 'node A to store the new version', 20_000);
        // B's listening connection is found dead while its packets are dropped: it does not answer the heartbeat.
        await waitFor(() => /the listening connection did not answer within/.test(b.process.output()) || undefined, 'node B to notice', 40_000);
      } finally {
        for (const rule of dropRules()) iptables('-D', ...rule);
      }
      // Its packets flow again: B listens again, drops what it held, and answers misses.
      await waitFor(async () => (await titleOn(b.url, 'p1')) === 'after', 'node B to answer the new version', 40_000);
      await waitFor(async () => (await titleOn(b.url, 'p2')) === 'missed', 'node B to answer a miss again', 20_000);
      expect(b.process.child.exitCode).to.equal(null);
    });
  });
}
