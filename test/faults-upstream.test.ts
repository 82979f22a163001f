// Upstreams that fail mid-answer: a connection reset after part of the body
// (or before any answer), and one that trickles its answer a byte at a time,
// each byte in time but the whole slower than UPSTREAM_TIMEOUT_MS. The reader
// is answered within the bound, with README's status, and a stored row is
// kept and served. And a refresh whose lease was lost before its upstream
// answered badly: its failure is not stored, nobody is told, and its reader
// gets what the new lease holder stored.
import { expect } from 'chai';
import * as entries from '../db/entries.js';
import { openDatabase, type Knex } from '../db/knex.js';
import * as outbox from '../db/outbox.js';
import { startTestService, useService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { manualClock, waitFor } from './support/wait.js';

// Well past a cold worker's first fetch (undici loads then), far below the trickle's 40 s.
const UPSTREAM_TIMEOUT_MS = 1000;

async function timed(service: TestService, path: string) {
  const started = performance.now();
  const res = await service.get(path);
  const text = await res.text();
  return { res, text, ms: performance.now() - started };
}

describe('an upstream that breaks off or trickles its answer', function () {
  this.timeout(30_000);
  let upstream: TestUpstream;
  let service: TestService;
  let db: Knex;
  const clock = manualClock();

  useService({
    now: clock.now,
    env: { ENTRY_TTL_SECONDS: '60', UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS), UPDATER_TASK_TIMEOUT_MS: '3000' },
  }, (u, s) => {
    upstream = u;
    service = s;
  });
  before(async () => {
    db = openDatabase(service.config.database);
    // The worker is up and has fetched once before the clock matters.
    let n = 0;
    await waitFor(async () => {
      const id = `warm${n++}`;
      upstream.set(id, { record: record(id) });
      return (await service.get(`/entries/${id}`)).status === 200;
    }, 'a first refresh', 20_000);
  });
  after(() => db?.destroy());

  /** Stored good, then stale: its next refresh meets `fault`. */
  async function storedThenStale(id: string): Promise<void> {
    upstream.set(id, { record: record(id, { title: 'kept' }) });
    expect((await service.get(`/entries/${id}`)).status).to.equal(200);
    clock.advance(61_000);
  }

  it('answers 503 with Retry-After for a reset mid-body, asking once', async () => {
    upstream.set('rst1', { reset: { bodyBytes: 40, record: record('rst1') } });
    const { res, text, ms } = await timed(service, '/entries/rst1');
    expect(res.status).to.equal(503);
    expect(Number(res.headers.get('retry-after'))).to.be.at.least(1);
    expect(text).not.to.match(/ECONNRESET|terminated|127\.0\.0\.1/);
    expect(ms).to.be.below(UPSTREAM_TIMEOUT_MS + 1500);
    // Part of an answer came: the request is not repeated (only a reused
    // connection's reset before any answer is).
    expect(upstream.count('rst1')).to.equal(1);
    expect((await entries.getEntry(db, 'rst1'))?.errorCode).to.equal('unreachable');
  });

  it('answers 503 for a reset before any answer, after one more try on a new connection', async () => {
    upstream.set('rst0', { reset: {} });
    const { res, ms } = await timed(service, '/entries/rst0');
    expect(res.status).to.equal(503);
    expect(ms).to.be.below(UPSTREAM_TIMEOUT_MS + 1500);
    expect(upstream.count('rst0')).to.equal(2);
  });

  it('keeps and serves the stored row when a refresh is reset mid-body', async () => {
    await storedThenStale('rst2');
    upstream.set('rst2', { reset: { bodyBytes: 40, record: record('rst2', { title: 'never seen' }) } });
    const stale = await service.get('/entries/rst2');
    expect(stale.status).to.equal(200);
    expect(await stale.text()).to.include('"title":"kept"');
    const res = await waitFor(async () => {
      const r = await service.get('/entries/rst2');
      return r.headers.get('cache-status')?.includes('detail=backoff') ? r : undefined;
    }, 'the failure to be recorded');
    expect(await res.text()).to.include('"title":"kept"');
    const row = await entries.getEntry(db, 'rst2');
    expect(row?.errorCode).to.equal('unreachable');
    expect(JSON.parse(row?.record ?? '{}')).to.include({ title: 'kept' });
  });

  it('answers 504 with Retry-After at UPSTREAM_TIMEOUT_MS for an answer trickled a byte at a time', async () => {
    // A byte every 20 ms (never idle for long), 2000 bytes: 40 s in all.
    upstream.set('drip1', { stream: { chunkBytes: 1, chunks: 2000, intervalMs: 20 } });
    const { res, ms } = await timed(service, '/entries/drip1');
    expect(res.status).to.equal(504);
    expect(Number(res.headers.get('retry-after'))).to.be.at.least(1);
    expect(ms).to.be.within(UPSTREAM_TIMEOUT_MS - 50, UPSTREAM_TIMEOUT_MS + 1500);
    // It had begun to answer, and was cut off at the timeout.
    expect(upstream.streamedChunks('drip1')).to.be.within(1, 200);
    expect((await entries.getEntry(db, 'drip1'))?.errorCode).to.equal('timeout');
  });

  it('keeps and serves the stored row when a refresh trickles past the timeout', async () => {
    await storedThenStale('drip2');
    upstream.set('drip2', { stream: { chunkBytes: 1, chunks: 2000, intervalMs: 20 } });
    const started = performance.now();
    const stale = await service.get('/entries/drip2');
    expect(stale.status).to.equal(200);
    expect(await stale.text()).to.include('"title":"kept"');
    // The stale answer does not wait for the refresh.
    expect(performance.now() - started).to.be.below(UPSTREAM_TIMEOUT_MS);
    const row = await waitFor(async () => {
      const r = await entries.getEntry(db, 'drip2');
      return r?.errorCode ? r : undefined;
    }, 'the timeout to be recorded', UPSTREAM_TIMEOUT_MS + 3000);
    expect(row.errorCode).to.equal('timeout');
    expect(JSON.parse(row.record ?? '{}')).to.include({ title: 'kept' });
    const again = await service.get('/entries/drip2');
    expect(again.status).to.equal(200);
    expect(again.headers.get('cache-status')).to.include('detail=backoff');
  });
});

describe('a refresh whose lease was lost before its upstream answered badly', function () {
  this.timeout(30_000);
  let upstream: TestUpstream;
  let a: TestService;
  let b: TestService;
  let db: Knex;
  // Two processes on one database; B's clock is past A's lease.
  const clockA = manualClock();
  const clockB = manualClock();

  before(async () => {
    upstream = await startTestUpstream();
    const env = { CONTENT_TEAM: 'content@example.test', ENTRY_TTL_SECONDS: '300', UPDATER_TASK_TIMEOUT_MS: '4000', UPSTREAM_TIMEOUT_MS: '3000' };
    a = await startTestService(upstream.url, { env, now: clockA.now });
    b = await startTestService(upstream.url, { env, now: clockB.now, database: a.database });
    db = openDatabase(a.config.database);
  });
  after(async () => {
    await db?.destroy();
    await b?.stop();
    await a?.stop();
    await upstream?.close();
  });

  it('stores no failure, tells nobody, and answers its reader from what the new holder stored', async () => {
    // A's fetch is answered late, with data that fails the schema.
    upstream.set('lost1', { record: { id: 'lost1', title: 'bad' }, delayMs: 1500 });
    const readingA = a.get('/entries/lost1');
    await waitFor(() => upstream.count('lost1') === 1, 'A to fetch lost1');
    // A's lease lasts UPDATER_TASK_TIMEOUT_MS + 5 s: B, past it, takes the entry over.
    clockB.advance(4000 + 5000 + 1000);
    upstream.set('lost1', { record: record('lost1', { title: 'from B' }) });
    const fromB = await b.get('/entries/lost1');
    expect(fromB.status).to.equal(200);
    expect(fromB.headers.get('cache-status')).to.equal('freshen; fwd=miss; stored');

    const res = await readingA;
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { data: { title: string } }).data.title).to.equal('from B');
    const row = await entries.getEntry(db, 'lost1');
    expect(row).to.include({ errorCode: null, errorCount: 0, leaseOwner: null });
    expect(JSON.parse(row?.record ?? '{}')).to.include({ title: 'from B' });
    expect((await outbox.listMessages(db, 10)).filter((m) => m.kind === 'invalid-data')).to.deep.equal([]);
    // A's memory holds B's record, not A's failure.
    const again = await a.get('/entries/lost1');
    expect(again.status).to.equal(200);
    expect(((await again.json()) as { data: { title: string } }).data.title).to.equal('from B');
    expect(upstream.count('lost1')).to.equal(2);
  });
});
