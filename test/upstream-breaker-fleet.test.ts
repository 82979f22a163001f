// The breaker shared by a fleet: three freshen nodes as separate process
// trees, each in a network namespace of its own, on one Postgres server. A
// breaker one node opens holds the other two within a second or so, and one
// probe goes per cool-off across the fleet, not one per node. Postgres half,
// one runtime (the breaker's state is in the database, not the pool).
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { useFreshenProcesses, type FreshenProcess } from './support/freshen-process.js';
import { createTestNetwork, type TestNetwork } from './support/netns.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const ids = Array.from({ length: 60 }, (_, i) => `s${i}`);
const COOL_OFF_S = 2;

async function breakerOpen(url: string): Promise<boolean> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return /^freshen_upstream_breaker_open\{origin="[^"]+"\} 1$/m.test(text);
}

if (process.env.TEST_DATABASE_URL && process.env.TEST_UPDATER_RUNTIME !== 'process') {
  describe('the upstream breaker across a fleet of three nodes', function () {
    this.timeout(120_000);
    const fleet = useFreshenProcesses('breaker-fleet');
    let network: TestNetwork;
    let pg: PostgresServer;
    let upstream: TestUpstream;
    const nodes: Array<{ process: FreshenProcess; url: string }> = [];

    before(async () => {
      network = createTestNetwork(3);
      pg = await startPostgresServer(undefined, { listen: [network.gateway], trust: network.cidr });
      upstream = await startTestUpstream({ host: network.gateway });
      for (const host of network.hosts) {
        const node = fleet.start(
          {
            DATABASE_URL: pg.url.replace('127.0.0.1', network.gateway),
            UPSTREAM_URL: upstream.url,
            HOST: host.address,
            ENTRY_TTL_SECONDS: '1',
            UPSTREAM_BREAKER_COOL_OFF_SECONDS: String(COOL_OFF_S),
            UPSTREAM_TIMEOUT_MS: '2000',
          },
          host.wrap,
        );
        nodes.push({ process: node, url: '' });
      }
      for (const node of nodes) node.url = await node.process.listening();
    });
    after(async () => {
      network?.destroy();
      await upstream?.close();
      pg?.destroy();
    });

    async function probesSent(): Promise<number> {
      let sum = 0;
      for (const node of nodes) {
        const text = await (await fetch(`${node.url}/metrics`)).text();
        sum += Number(/^freshen_upstream_breaker_refreshes_total\{what="probe"\} (\d+)/m.exec(text)?.[1] ?? 0);
      }
      return sum;
    }

    it('holds every node off within a second or so of one opening it, and sends one probe per cool-off across the fleet', async () => {
      for (const id of ids) upstream.set(id, { record: record(id) });
      for (const [i, id] of ids.entries()) expect((await fetch(`${nodes[i % 3]?.url}/entries/${id}`)).status).to.equal(200);
      await sleep(1100); // every entry stale (TTL 1 s)
      for (const id of ids) upstream.set(id, { status: 503 });

      // Reads on every node, steadily, for as long as the test looks.
      const reading = { on: true };
      const statuses = new Set<number>();
      const readers = nodes.map(async (node, n) => {
        for (let k = n; reading.on; k++) {
          const res = await fetch(`${node.url}/entries/${ids[k % ids.length]}`);
          await res.arrayBuffer();
          statuses.add(res.status);
          await sleep(5);
        }
      });
      try {
        // One node opens it: the other two hold off within a second or so (they read the shared row each second).
        await waitFor(async () => (await Promise.all(nodes.map((n) => breakerOpen(n.url)))).some(Boolean), 'one node to open the breaker', 10_000);
        const firstOpen = performance.now();
        await waitFor(async () => (await Promise.all(nodes.map((n) => breakerOpen(n.url)))).every(Boolean), 'every node to hold off', 3000);
        const allOpen = performance.now() - firstOpen;
        expect(allOpen, `every node held off ${Math.round(allOpen)} ms after the first`).to.be.below(2500);

        // Nine seconds open: cool-offs of 2 s then 4 s end within it — at most two probes, from whichever nodes, and nothing else.
        const sentBefore = upstream.total();
        const probesBefore = await probesSent();
        await sleep(9000);
        const sent = upstream.total() - sentBefore;
        const probes = (await probesSent()) - probesBefore;
        expect(probes, 'probes across the fleet').to.be.within(1, 2);
        expect(sent, 'upstream requests while open').to.equal(probes);
      } finally {
        reading.on = false;
        await Promise.all(readers);
      }
      expect([...statuses]).to.deep.equal([200]);

      // Healed: the next probe closes it for all three.
      for (const id of ids) upstream.set(id, { record: record(id, { title: 'healed' }) });
      await waitFor(
        async () => {
          for (const node of nodes) await fetch(`${node.url}/entries/${ids[0]}`).then((r) => r.arrayBuffer());
          return !(await Promise.all(nodes.map((n) => breakerOpen(n.url)))).some(Boolean);
        },
        'every node to ask the upstream again',
        20_000,
      );
    });
  });
}
