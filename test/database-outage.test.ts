// Postgres stopped under load and started again: while it is away a miss is
// answered 503 with Retry-After within the acquire timeout (never a 500,
// never a hang), rows the memory tier holds are still served, /readyz says
// 503, and no process dies; when it is back everything recovers by itself.
// The database is a Postgres server of this test's own, so that it can stop
// it — in the SQLite half of the suite too.
import { expect } from 'chai';
import knexModule from 'knex';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useFreshenProcesses } from './support/freshen-process.js';
import { startPostgresServer, type PostgresServer } from './support/postgres-server.js';
import { record } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const knex = knexModule as unknown as typeof knexModule.knex;

interface Seen {
  status: number;
  cacheStatus: string;
  retryAfter: string | null;
  ms: number;
}

/** The .eml files a mailer wrote (SMTP_URL unset). */
function mailIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

async function read(url: string): Promise<Seen> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  await res.arrayBuffer();
  return {
    status: res.status,
    cacheStatus: res.headers.get('cache-status') ?? '',
    retryAfter: res.headers.get('retry-after'),
    ms: performance.now() - started,
  };
}

describe('a database that is away or has no free connection', function () {
  this.timeout(120_000);
  const fleet = useFreshenProcesses('outage');
  let pg: PostgresServer;

  before(async () => {
    pg = await startPostgresServer();
  });
  after(() => {
    pg?.destroy();
  });

  it('answers 503 with Retry-After meanwhile, serves what memory holds, and recovers without a restart', async () => {
    const upstream = fleet.upstream();
    upstream.set('hot', { record: record('hot') });
    upstream.set('cold', { record: record('cold') });
    upstream.set('new', { record: record('new') });
    const node = fleet.start({
      DATABASE_URL: pg.url,
      ENTRY_TTL_SECONDS: '6',
      DATABASE_ACQUIRE_TIMEOUT_MS: '1000',
      ADMINS: 'ops@example.test',
    });
    const url = await node.listening();

    // `cold` turns stale (its refreshes fail, so it stays stale), then `hot` is fetched fresh.
    expect((await read(`${url}/entries/cold`)).status).to.equal(200);
    upstream.set('cold', { status: 503 });
    await waitFor(async () => (await read(`${url}/entries/cold`)).cacheStatus.includes('fwd=stale'), 'cold to turn stale', 10_000);
    expect((await read(`${url}/entries/hot`)).cacheStatus).to.equal('freshen; fwd=miss; stored');

    pg.stop();
    const seen: Record<string, Seen[]> = { hot: [], cold: [], new: [] };
    const deadline = performance.now() + 2000;
    await Promise.all(
      Array.from({ length: 8 }, async (_, worker) => {
        while (performance.now() < deadline) {
          const id = (['hot', 'cold', 'new'] as const)[worker % 3] as 'hot' | 'cold' | 'new';
          seen[id]?.push(await read(`${url}/entries/${id}`));
        }
      }),
    );
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).to.equal(503);

    expect(seen.hot?.length).to.be.greaterThan(0);
    expect(seen.hot?.every((s) => s.status === 200 && s.cacheStatus.startsWith('freshen; hit'))).to.equal(true);
    expect(seen.cold?.length).to.be.greaterThan(0);
    expect(seen.cold?.every((s) => s.status === 200 && s.cacheStatus.includes('fwd=stale'))).to.equal(true);
    expect(seen.new?.length).to.be.greaterThan(0);
    for (const s of seen.new ?? []) {
      expect(s.status).to.equal(503);
      expect(Number(s.retryAfter)).to.be.at.least(1);
      // Within the acquire timeout (and some slack on a busy machine), not knex's 60 s.
      expect(s.ms).to.be.below(5000);
    }

    pg.start();
    await waitFor(async () => (await read(`${url}/entries/new`)).status === 200, 'a miss to be answered again', 30_000);
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, '/readyz to say ready again', 10_000);
    expect(node.child.exitCode).to.equal(null);
    expect(node.output()).not.to.match(/"msg":"request failed"/);
    // One log line for the outage, not one per request; and one notice to the admins once it is over.
    expect(node.output().match(/the database is unavailable/g)).to.have.length(1);
    const notice = await waitFor(() => mailIn(join(fleet.files(), 'mail')).find((m) => m.includes('The database was unavailable')), 'the admins’ notice', 15_000);
    expect(notice).to.match(/To: ops@example.test/);
  });

  it('answers 503 within the acquire timeout when every connection is taken, and serves memory hits meanwhile', async () => {
    const upstream = fleet.upstream();
    upstream.set('p1', { record: record('p1') });
    const node = fleet.start({
      DATABASE_URL: pg.url,
      DATABASE_POOL_MAX: '1',
      DATABASE_ACQUIRE_TIMEOUT_MS: '500',
      DATABASE_STATEMENT_TIMEOUT_MS: '3000',
    });
    const url = await node.listening();
    expect((await read(`${url}/entries/p1`)).status).to.equal(200);

    // Another client locks the table: freshen's one connection waits on it,
    // and every other query waits for that connection.
    const blocker = knex({ client: 'pg', connection: pg.url });
    const trx = await blocker.transaction();
    try {
      await trx.raw('lock table entries in access exclusive mode');
      const misses = await Promise.all(Array.from({ length: 5 }, (_, i) => read(`${url}/entries/px${i}`)));
      for (const s of misses) {
        expect(s.status).to.equal(503);
        expect(Number(s.retryAfter)).to.be.at.least(1);
        // The acquire timeout (0.5 s) or the statement timeout (3 s), with slack for a busy machine.
        expect(s.ms).to.be.below(8000);
      }
      const hit = await read(`${url}/entries/p1`);
      expect(hit.status).to.equal(200);
      expect(hit.cacheStatus).to.match(/^freshen; hit/);
    } finally {
      await trx.rollback();
      await blocker.destroy();
    }
    upstream.set('px0', { record: record('px0') });
    await waitFor(async () => (await read(`${url}/entries/px0`)).status === 200, 'a miss to be answered again', 15_000);
    expect(node.child.exitCode).to.equal(null);
  });
});
