// A sick upstream is left alone: when most refreshes fail, the breaker opens,
// stale entries are served without asking it, misses are answered 503 at
// once, and one probe per cool-off finds out when it is well again. Real
// time, a real loopback upstream that fails every request for 12 s, ten
// readers on 200 stale entries; the breaker's defaults.
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDatabase, type Knex } from '../db/knex.js';
import { listMessages } from '../db/outbox.js';
import { startTestService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'a-breaker-operator-token';
const ENTRIES = 200;
const ids = Array.from({ length: ENTRIES }, (_, i) => `b${i}`);

describe('the upstream circuit breaker', function () {
  this.timeout(90_000);
  let upstream: TestUpstream;
  let service: TestService;
  let db: Knex;

  before(async () => {
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url, {
      // The upstream's own timeout as by default: this test's upstream shares its process with ten readers.
      env: { ENTRY_TTL_SECONDS: '1', ADMIN_TOKEN: TOKEN, ADMINS: 'ops@example.org', UPDATER_MAX_QUEUE: '1000', UPSTREAM_TIMEOUT_MS: '5000', UPDATER_TASK_TIMEOUT_MS: '8000' },
    });
    db = openDatabase(service.config.database);
  });
  after(async () => {
    await db?.destroy();
    await service?.stop();
    await upstream?.close();
  });

  async function status(): Promise<{ state: string; reason: string | null; held: number; probes: number }> {
    const res = await service.get('/admin', { authorization: `Bearer ${TOKEN}`, accept: 'application/json' });
    return ((await res.json()) as { upstream: { state: string; reason: string | null; held: number; probes: number } }).upstream;
  }

  async function metric(line: RegExp): Promise<number> {
    const text = await (await service.get('/metrics')).text();
    return Number(line.exec(text)?.[1] ?? Number.NaN);
  }

  it('stops asking an upstream that fails every request, serves stale, answers misses 503 at once, and resumes when it heals', async () => {
    for (const id of ids) upstream.set(id, { record: record(id, { title: 'before' }) });
    for (const id of ids) expect((await service.get(`/entries/${id}`)).status).to.equal(200);
    // Every entry stale (TTL 1 s) and every request failing from now on, for 12 s.
    await sleep(1100);
    for (const id of ids) upstream.set(id, { status: 503, body: 'down for maintenance' });
    const before = upstream.total();
    const failingUntil = performance.now() + 12_000;

    // Ten readers, steadily, over the stale entries: every read is answered 200.
    const statuses = new Map<number, number>();
    const details = new Set<string>();
    const readers = Array.from({ length: 10 }, async (_, r) => {
      for (let k = r; performance.now() < failingUntil; k += 7) {
        const res = await service.get(`/entries/${ids[k % ENTRIES]}`);
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        details.add(/detail=([a-z-]+)/.exec(res.headers.get('cache-status') ?? '')?.[1] ?? 'none');
        await sleep(2);
      }
    });

    const opened = await waitFor(async () => ((await status()).state !== 'closed' ? status() : undefined), 'the breaker to open', 5000);
    expect(opened.reason).to.match(/of \d+ refreshes failed within 10 s \(the last: upstream answered 503\)/);

    // A miss while it is open: 503 with Retry-After, and the upstream never asked.
    const miss = await service.get('/entries/never-seen');
    expect(miss.status).to.equal(503);
    expect(Number(miss.headers.get('retry-after'))).to.be.within(1, 60);
    expect(miss.headers.get('cache-status')).to.equal('freshen; fwd=miss; detail=upstream-unhealthy');
    expect(upstream.count('never-seen')).to.equal(0);

    await Promise.all(readers);
    const sent = upstream.total() - before;
    expect([...statuses.keys()]).to.deep.equal([200]);
    expect(details).to.include('upstream-unhealthy');
    // 200 entries failing for 12 s: without the breaker, every entry's own backoff (1, 2, 4, 8 s) asks ~4 times.
    expect(sent, `the upstream was asked ${sent} times in 12 s`).to.be.at.most(40);
    expect((await status()).held).to.be.above(0);

    // Healed (its records now fresh for a minute): a probe finds out, and every entry is fresh again within 20 s.
    for (const id of ids) upstream.set(id, { record: record(id, { title: 'healed' }), headers: { 'cache-control': 'max-age=60' } });
    let fresh = 0;
    await waitFor(
      async () => {
        // One read at a time, as a reader would: 200 at once would flood the
        // process that also runs this test's upstream, and a probe answered
        // past UPSTREAM_TIMEOUT_MS counts as failed.
        fresh = 0;
        for (const id of ids) {
          const res = await service.get(`/entries/${id}`);
          if (res.status === 200 && (res.headers.get('cache-status') ?? '').startsWith('freshen; hit') && (await res.text()).includes('"title":"healed"')) fresh++;
          else await res.arrayBuffer();
        }
        return fresh === ENTRIES;
      },
      'every entry fresh again',
      20_000,
    ).catch(async (err: unknown) => {
      const admin = (await (await service.get('/admin', { authorization: `Bearer ${TOKEN}`, accept: 'application/json' })).json()) as Record<string, unknown>;
      throw new Error(`${(err as Error).message}: ${fresh} of ${ENTRIES} fresh; upstream ${JSON.stringify(admin.upstream)}; reads ${JSON.stringify(admin.cache)}`);
    });
    expect((await status()).state).to.equal('closed');
    expect(await metric(/^freshen_upstream_breaker_transitions_total\{to="opened"\} (\d+)/m)).to.equal(1);
    expect(await metric(/^freshen_upstream_breaker_transitions_total\{to="closed"\} (\d+)/m)).to.equal(1);
    expect(await metric(/^freshen_upstream_breaker_open\{origin="[^"]+"\} (\d+)/m)).to.equal(0);

    // One notice to the admins when it opened, one when it closed.
    const kinds = (await listMessages(db, 50)).map((m) => m.kind).filter((k) => k.startsWith('upstream-'));
    expect(kinds.toSorted()).to.deep.equal(['upstream-healthy', 'upstream-unhealthy']);
  });

  it("opens at once for as long as an upstream's Retry-After says, within the longest cool-off", async () => {
    upstream.set('ra', { status: 503, headers: { 'retry-after': '3' } });
    const first = await service.get('/entries/ra');
    expect(first.status).to.equal(503);
    const open = await waitFor(async () => ((await status()).state !== 'closed' ? status() : undefined), 'the breaker to open', 3000);
    expect(open.reason).to.include('Retry-After 3 s');
    upstream.set('other', { record: record('other') });
    const held = await service.get('/entries/other');
    expect(held.status).to.equal(503);
    expect(Number(held.headers.get('retry-after'))).to.be.within(1, 3);
    expect(upstream.count('other')).to.equal(0);
    // Past it, the next read is the probe; it succeeds and closes the breaker.
    upstream.set('ra', { record: record('ra') });
    await waitFor(async () => (await service.get('/entries/other')).status === 200, 'the probe after Retry-After', 6000);
    expect(upstream.count('other')).to.equal(1);
    expect((await status()).state).to.equal('closed');
  });
});
