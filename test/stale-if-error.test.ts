// A failing upstream is not an outage: the last good row keeps being served,
// the failure is recorded, and the entry backs off instead of hammering the
// upstream on every read.
import { expect } from 'chai';
import * as entries from '../db/entries.js';
import { openDatabase, type Knex } from '../db/knex.js';
import { startTestUpstream, record, type TestUpstream } from './support/upstream.js';
import { startTestService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

describe('stale-if-error with backoff', () => {
  let upstream: TestUpstream;
  let service: TestService;
  let db: Knex;
  const clock = manualClock();

  before(async () => {
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url, { now: clock.now, env: { ENTRY_TTL_SECONDS: '60', UPSTREAM_MAX_BYTES: '65536' } });
    db = openDatabase(service.config.database);
  });
  after(async () => {
    await db?.destroy();
    await service?.stop();
    await upstream?.close();
  });

  const row = (id: string) => entries.getEntry(db, id);

  async function readStale(id: string) {
    const res = await service.get(`/entries/${id}`);
    expect(res.status).to.equal(200);
    return { cacheStatus: res.headers.get('cache-status') ?? '', body: await res.text() };
  }

  it('keeps serving the last good row while the upstream fails, and backs off', async () => {
    upstream.set('f1', { record: record('f1', { title: 'good' }) });
    await service.get('/entries/f1');
    upstream.set('f1', { status: 500, body: 'boom' });
    clock.advance(61_000);

    const first = await readStale('f1');
    expect(first.cacheStatus).to.equal('freshen; fwd=stale; ttl=-1');
    await waitFor(async () => (await row('f1'))?.errorCount === 1, 'the failure to be recorded');
    expect(upstream.count('f1')).to.equal(2);
    const failed = await row('f1');
    expect(failed?.errorCode).to.equal('unavailable');
    expect(failed?.error).to.equal('upstream answered 500');
    expect((failed?.nextRefreshAt ?? 0) - clock.now()).to.be.within(1000, 1250);

    // Within the backoff: twenty reads, all served stale, none reaches the upstream.
    for (let i = 0; i < 20; i++) {
      const r = await readStale('f1');
      expect(r.cacheStatus).to.equal('freshen; fwd=stale; ttl=-1; detail=backoff');
      expect(r.body).to.include('"title":"good"');
    }
    expect(upstream.count('f1')).to.equal(2);

    // Past the backoff: one more try, and the next wait doubles.
    clock.advance(1300);
    await readStale('f1');
    await waitFor(async () => (await row('f1'))?.errorCount === 2, 'the second failure');
    expect(upstream.count('f1')).to.equal(3);
    const second = await row('f1');
    expect((second?.nextRefreshAt ?? 0) - clock.now()).to.be.within(2000, 2500);
    for (let i = 0; i < 10; i++) await readStale('f1');
    expect(upstream.count('f1')).to.equal(3);
  });

  it('resets the backoff when the upstream recovers', async () => {
    upstream.set('f1', { record: record('f1', { title: 'recovered' }) });
    clock.advance(2600);
    await readStale('f1');
    await waitFor(async () => (await row('f1'))?.errorCount === 0, 'the successful refresh');
    const res = await service.get('/entries/f1');
    expect(res.headers.get('cache-status')).to.match(/^freshen; hit; ttl=/);
    expect(await res.text()).to.include('"title":"recovered"');
    expect(await row('f1')).to.include({ errorCode: null, nextRefreshAt: 0 });
  });

  it('keeps the good row when a refresh turns it invalid, and says so', async () => {
    upstream.set('i1', { record: record('i1', { title: 'valid' }) });
    await service.get('/entries/i1');
    upstream.set('i1', { record: record('i1', { title: 42 }) });
    clock.advance(61_000);
    await readStale('i1');
    await waitFor(async () => (await row('i1'))?.errorCode === 'invalid', 'the invalid refresh');
    expect((await row('i1'))?.error).to.include('/title must be string');
    const r = await readStale('i1');
    expect(r.cacheStatus).to.match(/^freshen; fwd=stale; ttl=-\d+; detail=invalid-upstream$/);
    expect(r.body).to.include('"title":"valid"');
  });

  it('says invalid-upstream, too, for an answer that is not JSON or is too large', async () => {
    for (const [id, bad] of [
      ['n1', { status: 200, body: '<html>oops</html>' }],
      ['n2', { status: 200, body: JSON.stringify({ pad: 'x'.repeat(70_000) }) }],
    ] as const) {
      upstream.set(id, { record: record(id) });
      await service.get(`/entries/${id}`);
      upstream.set(id, bad);
      clock.advance(61_000);
      await readStale(id);
      await waitFor(async () => ((await row(id))?.errorCount ?? 0) > 0, `the failed refresh of ${id}`);
      const r = await readStale(id);
      expect(r.cacheStatus, id).to.match(/^freshen; fwd=stale; ttl=-\d+; detail=invalid-upstream$/);
    }
  });

  it('answers a miss on a failing upstream from the recorded failure while it backs off', async () => {
    upstream.set('d1', { status: 503 });
    const first = await service.get('/entries/d1');
    expect(first.status).to.equal(503);
    expect(Number(first.headers.get('retry-after'))).to.be.within(1, 2);
    expect(upstream.count('d1')).to.equal(1);
    for (let i = 0; i < 10; i++) {
      const again = await service.get('/entries/d1');
      expect(again.status).to.equal(503);
      expect(again.headers.get('cache-status')).to.equal('freshen; fwd=miss; detail=backoff');
      expect(again.headers.get('retry-after')).to.match(/^[12]$/);
    }
    expect(upstream.count('d1')).to.equal(1);
    upstream.set('d1', { record: record('d1') });
    clock.advance(1300);
    const recovered = await service.get('/entries/d1');
    expect(recovered.status).to.equal(200);
    expect(upstream.count('d1')).to.equal(2);
  });
});
