// A fleet: three freshen nodes as separate process trees, each in a network
// namespace of its own (a test host with its own address, made here as root
// with `ip netns`), sharing one database — a Postgres server of this test's
// own in the Postgres half of the suite, one SQLite file in the SQLite half —
// with a real upstream and a real SMTP server on the bridge that joins them.
// Under load spread over the three: each missing entry is fetched once, each
// stale entry refreshed once per staleness window, 1,000 messages are
// delivered once each while the mailers of all three nodes drain the outbox,
// and a node killed with SIGKILL mid-run loses nothing: its lease and its
// claims are taken over once they expire. In the Postgres half (one runtime)
// the fleet runs once more behind PgBouncer in transaction mode, with its
// default settings, where LISTEN hears nothing and nodes poll for each
// other's stores instead. A webhook taken by one node reaches every node
// (and its replay to another is refused), by LISTEN or by polling alike.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { openDatabase, type Knex } from '../db/knex.js';
import { migrate } from '../db/migrate.js';
import * as outbox from '../db/outbox.js';
import { loadConfig } from '../server/config/config.js';
import { sign } from '../server/freshness/webhook.js';
import { freshDatabase, type TestDatabase } from './support/database.js';
import { useFreshenProcesses, type FreshenProcess } from './support/freshen-process.js';
import { createTestNetwork, type TestNetwork } from './support/netns.js';
import { startPgBouncer, type PgBouncer } from './support/pgbouncer.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { startTestSmtp, type TestSmtp } from './support/smtp.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const MESSAGES = 1000;
const ENTRIES = 30;
// Long enough that every entry refreshed in one round is still fresh when the round is checked.
const TTL_MS = 8000;
const ids = Array.from({ length: ENTRIES }, (_, i) => `f${i}`);
const TOKEN = 'a-fleet-operator-token';
const WEBHOOK_SECRET = 'a-fleet-webhook-secret-of-32-characters';

async function titleOn(url: string, id = 'news'): Promise<string> {
  return ((await (await fetch(`${url}/entries/${id}`)).json()) as { data: { title: string } }).data.title;
}

fleetOf('a fleet of three nodes on one database', false);
if (process.env.TEST_DATABASE_URL && process.env.TEST_UPDATER_RUNTIME !== 'process') {
  fleetOf('a fleet of three nodes behind PgBouncer in transaction mode', true);
}

function fleetOf(name: string, behindPooler: boolean): void {
describe(name, function () {
  this.timeout(180_000);
  const fleet = useFreshenProcesses(behindPooler ? 'fleet-pooler' : 'fleet');
  let network: TestNetwork;
  let pg: PostgresServer | undefined;
  let pooler: PgBouncer | undefined;
  let sqlite: TestDatabase | undefined;
  let databaseUrl: string;
  let db: Knex;
  let upstream: TestUpstream;
  let smtp: TestSmtp;
  const nodes: Array<{ process: FreshenProcess; url: string }> = [];

  before(async () => {
    network = createTestNetwork(3);
    if (process.env.TEST_DATABASE_URL) {
      pg = await startPostgresServer(undefined, { listen: [network.gateway], trust: network.cidr });
      databaseUrl = pg.url.replace('127.0.0.1', network.gateway);
      if (behindPooler) {
        pooler = await startPgBouncer(pg, network.gateway);
        databaseUrl = pooler.url;
      }
      db = openDatabase(loadConfig({ DATABASE_URL: pg.url }).database);
    } else {
      // Namespaces share the file system: one SQLite file serves every node.
      sqlite = await freshDatabase();
      databaseUrl = sqlite.url;
      db = openDatabase(loadConfig({ DATABASE_URL: sqlite.url }).database);
    }
    await migrate(db);
    upstream = await startTestUpstream({ host: network.gateway });
    smtp = await startTestSmtp({ host: network.gateway });
    smtp.dataDelayMs = 2;
    for (const host of network.hosts) {
      const node = fleet.start(
        {
          DATABASE_URL: databaseUrl,
          UPSTREAM_URL: upstream.url,
          SMTP_URL: smtp.url,
          HOST: host.address,
          ENTRY_TTL_SECONDS: String(TTL_MS / 1000),
          // Both workers from the start: three nodes' cold starts share two cores here.
          UPDATER_MIN_WORKERS: '2',
          UPSTREAM_TIMEOUT_MS: '3000',
          MAIL_SWEEP_SECONDS: '0.2',
          MAIL_CLAIM_SECONDS: '4',
          SMTP_TIMEOUT_SECONDS: '1',
          MAIL_BATCH_SIZE: '20',
          ADMIN_TOKEN: TOKEN,
          WEBHOOK_SECRET,
        },
        host.wrap,
      );
      nodes.push({ process: node, url: '' });
    }
    for (const node of nodes) node.url = await node.process.listening();
    // Each node's workers have loaded the task module and compiled the schema
    // before the load begins, as a node that has been up a while has.
    for (const [i, node] of nodes.entries()) {
      upstream.set(`warm${i}`, { status: 404 });
      expect((await fetch(`${node.url}/entries/warm${i}`)).status).to.equal(404);
    }
  });
  after(async () => {
    network?.destroy();
    await db?.destroy();
    await upstream?.close();
    await smtp?.close();
    await pooler?.stop();
    pg?.destroy();
    await sqlite?.drop();
  });

  /** Reads every id `times` times, spread over the nodes given, all at once. */
  async function readAll(on: typeof nodes, times: number): Promise<number[]> {
    const reads = ids.flatMap((id, i) =>
      Array.from({ length: times }, async (_, k) => {
        const node = on[(i + k) % on.length] as (typeof nodes)[number];
        const res = await fetch(`${node.url}/entries/${id}`);
        await res.arrayBuffer();
        return res.status;
      }),
    );
    return Promise.all(reads);
  }

  it('fetches each missing entry once, and refreshes each stale entry once per staleness window', async () => {
    for (const id of ids) upstream.set(id, { record: record(id), delayMs: 150 });
    const first = await readAll(nodes, 9);
    expect(first.filter((s) => s !== 200)).to.deep.equal([]);
    for (const id of ids) expect(upstream.count(id), id).to.equal(1);

    // Stale on every node (TTL 8 s): the reads are answered stale, and each entry refreshed once.
    await waitFor(async () => {
      const fresh = await db('entries').whereIn('id', ids).andWhere('fetched_at', '>', Date.now() - TTL_MS).count({ n: '*' });
      return Number(fresh[0]?.n) === 0;
    }, 'every entry to turn stale', 20_000);
    await readAll(nodes, 9);
    await waitFor(() => ids.every((id) => upstream.count(id) >= 2), 'every entry to be refreshed', 10_000);
    // A second read of every entry on every node now finds it fresh: no third fetch.
    await readAll(nodes, 3);
    for (const id of ids) expect(upstream.count(id), id).to.equal(2);
  });

  // Nodes hear each other's stores through Postgres (SQLite has no such way between machines).
  if (process.env.TEST_DATABASE_URL) it("drops a node's old copy when another node stores a new version, by LISTEN or else by polling", async () => {
    upstream.set('news', { record: record('news', { title: 'first' }) });
    const [a, b] = nodes as [(typeof nodes)[number], (typeof nodes)[number]];
    expect(await titleOn(a.url)).to.equal('first');
    expect(await titleOn(b.url)).to.equal('first');
    expect((await fetch(`${b.url}/entries/news`)).headers.get('cache-status')).to.match(/^freshen; hit/);
    upstream.set('news', { record: record('news', { title: 'second' }) });
    const asked = await fetch(`${a.url}/entries/news/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(asked.status).to.equal(202);
    await waitFor(async () => (await titleOn(a.url)) === 'second', 'node A to store the new version', 10_000);
    // B held the first version fresh for its TTL (8 s): it answers the second well before.
    await waitFor(async () => (await titleOn(b.url)) === 'second', "node B to drop its copy", 4000);
    expect(b.process.output()).to.match(behindPooler ? /polling for other nodes’ refreshes/ : /hearing other nodes’ refreshes by LISTEN/);
  });

  if (process.env.TEST_DATABASE_URL) it('takes a signed webhook on one node: every node drops its copy, the entry is refreshed once, and the call replayed to another node is refused', async () => {
    upstream.set('promo', { record: record('promo', { title: 'first' }), headers: { 'Surrogate-Key': 'spring-sale' } });
    for (const node of nodes) expect(await titleOn(node.url, 'promo')).to.equal('first');
    for (const node of nodes) expect((await fetch(`${node.url}/entries/promo`)).headers.get('cache-status')).to.match(/^freshen; hit/);
    upstream.set('promo', { record: record('promo', { title: 'second' }), headers: { 'Surrogate-Key': 'spring-sale' } });

    const [a, b] = nodes as [(typeof nodes)[number], (typeof nodes)[number]];
    const body = JSON.stringify({ tags: ['spring-sale'] });
    const t = Math.floor(Date.now() / 1000);
    const call = (url: string) =>
      fetch(`${url}/hooks/entries`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Freshen-Signature': `t=${t},v1=${sign(WEBHOOK_SECRET, t, body)}` }, body });
    const taken = await call(a.url);
    expect(taken.status).to.equal(200);
    expect(await taken.json()).to.include({ matched: 1 });
    // Every node held the first version fresh for its TTL (8 s): each answers the second well before.
    for (const node of nodes) await waitFor(async () => (await titleOn(node.url, 'promo')) === 'second', 'every node to answer the refreshed record', 4000);
    expect(upstream.count('promo')).to.equal(2);
    // The same call sent to another node: refused there, as the fleet has taken it.
    expect((await call(b.url)).status).to.equal(401);
  });

  it('delivers 1,000 messages once each while every node drains, and loses nothing when a node is killed mid-run', async () => {
    const expected: string[] = [];
    const rows = Array.from({ length: MESSAGES }, (_, i) => {
      const messageId = `<fleet-${i}-${randomBytes(4).toString('hex')}@example.test>`;
      expected.push(messageId);
      return { kind: 'test', recipients: ['ops@example.test'], subject: `fleet ${i}`, text: 't', html: '<p>t</p>', dedupeKey: `fleet-${i}`, messageId };
    });
    for (const message of rows) await outbox.enqueue(db, message, Date.now(), 0);

    // Node 3 takes a lease (a slow miss) and mail claims, then is lost.
    upstream.set('lost', { record: record('lost'), delayMs: 1200 });
    const lostNode = nodes[2] as (typeof nodes)[number];
    void fetch(`${lostNode.url}/entries/lost`).catch(() => undefined);
    await waitFor(() => upstream.count('lost') === 1 && smtp.received.length >= 100, 'node 3 to hold a lease and mail to flow', 30_000);
    network.hosts[2]?.killAll();

    // The others finish the outbox, including what node 3 had claimed.
    await waitFor(async () => (await outbox.outboxStats(db, Date.now())).counts.sent === MESSAGES, 'every message to be sent', 90_000);
    const delivered = smtp.received.map((r) => r.mail.messageId ?? '').filter((id) => id.startsWith('<fleet-'));
    const unique = new Set(delivered);
    expect([...unique].toSorted()).to.deep.equal(expected.toSorted());
    // At most the messages in transfer when node 3 died (one per mailer) went twice.
    expect(delivered.length - unique.size).to.be.at.most(2);
    // The mailers of the surviving nodes both took part.
    for (const node of nodes.slice(0, 2)) {
      const sent = [...node.process.output().matchAll(/"sent":(\d+).*"msg":"mailer done"/g)].reduce((n, m) => n + Number(m[1]), 0);
      expect(sent, 'messages a node’s mailers sent').to.be.greaterThan(0);
    }

    // Node 3's lease expires (UPDATER_TASK_TIMEOUT_MS, 10 s, + 5 s): another node takes the entry.
    const taken = await waitFor(async () => {
      const res = await fetch(`${nodes[0]?.url}/entries/lost`);
      return res.status === 200 ? res : undefined;
    }, 'the lost lease to be taken over', 40_000);
    expect(taken.headers.get('cache-status')).to.match(/fwd=miss/);
    expect(upstream.count('lost')).to.equal(2);
    process.stdout.write(
      `      fleet: ${delivered.length} deliveries of ${MESSAGES} messages (${delivered.length - unique.size} twice after node 3 was killed); ` +
        `its lease taken over after it expired\n`,
    );
  });
});
}
