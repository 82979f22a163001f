// freshen talks to the upstream as an HTTP cache does: it revalidates a
// stored record with the validators the upstream sent (a 304 keeps it, fresh
// again, with nothing downloaded or rewritten), lets the upstream's
// Cache-Control set each entry's TTL within the operator's bounds, refreshes
// a steadily read entry ahead of its TTL, and asks again about a 404 after a
// short while. A real upstream on loopback; the service's clock is moved by
// hand, so no test sleeps through a TTL.
import { expect } from 'chai';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { record, type TestUpstream } from './support/upstream.js';
import { startTestService, useService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

interface EntryBody {
  id: string;
  data: { title: string };
  fetchedAt: string;
}

async function read(service: TestService, id: string) {
  const res = await service.get(`/entries/${id}`);
  return {
    status: res.status,
    cacheStatus: res.headers.get('cache-status') ?? '',
    age: res.headers.get('age'),
    body: res.status === 200 ? ((await res.json()) as EntryBody) : undefined,
  };
}

describe('conditional refreshes', () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();

  useService({ now: clock.now, env: { ENTRY_TTL_SECONDS: '60' } }, (u, s) => {
    upstream = u;
    service = s;
  });

  const pageMtime = async (id: string) => Math.floor((await stat(join(service.files, 'pages', `${id}.html`))).mtimeMs);

  it('revalidates an unchanged record with one conditional request: a 304, the entry fresh again, Age restarted, no page rewritten', async () => {
    upstream.set('c1', { record: record('c1', { title: 'One' }), etag: '"v1"' });
    const first = await read(service, 'c1');
    expect(first.cacheStatus).to.equal('freshen; fwd=miss; stored');
    const firstFetch = clock.now();
    await waitFor(async () => (await pageMtime('c1').catch(() => 0)) === firstFetch || undefined, 'the page of the first fetch');

    clock.advance(61_000);
    expect((await read(service, 'c1')).cacheStatus).to.match(/^freshen; fwd=stale; ttl=-/);
    await waitFor(() => upstream.notModified('c1') === 1 || undefined, 'the conditional refresh');
    expect(upstream.headersOf('c1')?.['if-none-match']).to.equal('"v1"');
    expect(upstream.count('c1')).to.equal(2);

    const again = await waitFor(async () => {
      const r = await read(service, 'c1');
      return r.cacheStatus.startsWith('freshen; hit') ? r : undefined;
    }, 'a fresh hit after the 304');
    expect(again.age).to.equal('0');
    expect(again.cacheStatus).to.equal('freshen; hit; ttl=60');
    expect(again.body?.fetchedAt).to.equal(new Date(clock.now()).toISOString());
    expect(again.body?.data.title).to.equal('One');
    // The page still carries the first fetch: it was not written again.
    expect(await pageMtime('c1')).to.equal(firstFetch);
    const metrics = await (await service.get('/metrics')).text();
    expect(metrics).to.match(/freshen_refreshes_total\{outcome="not-modified"\} 1/);
  });

  it('keeps the 304 in the copy: another node reading the stored row finds the entry fresh and asks the upstream nothing', async () => {
    // A second service on the same database, with an empty memory tier: what
    // it knows of c1 is the stored row alone (as another node, or this one
    // after an eviction or a restart).
    const other = await startTestService(upstream.url, { database: service.database, now: clock.now, env: { ENTRY_TTL_SECONDS: '60' } });
    try {
      const seen = await read(other, 'c1');
      expect(seen.cacheStatus).to.equal('freshen; hit; ttl=60');
      expect(seen.age).to.equal('0');
      expect(upstream.count('c1')).to.equal(2);
    } finally {
      await other.stop();
    }
  });

  it('brings a changed record back whole through the same conditional request, and publishes it', async () => {
    upstream.set('c1', { record: record('c1', { title: 'Two' }), etag: '"v2"' });
    clock.advance(61_000);
    await read(service, 'c1');
    await waitFor(async () => ((await read(service, 'c1')).body?.data.title === 'Two') || undefined, 'the changed record');
    expect(upstream.headersOf('c1')?.['if-none-match']).to.equal('"v1"');
    expect(upstream.notModified('c1')).to.equal(1);
    const fetched = clock.now();
    await waitFor(async () => (await pageMtime('c1')) === fetched || undefined, 'the page of the changed record');
  });

  it('takes a 304 to a request that was not conditional for a failure like any unexpected status', async () => {
    upstream.set('c3', { status: 304 });
    const res = await service.get('/entries/c3');
    expect(res.status).to.equal(502);
    expect(await res.text()).not.to.include('304');
  });
});

describe("the upstream's own freshness", () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();

  useService({ now: clock.now, env: { ENTRY_TTL_SECONDS: '60', ENTRY_TTL_MIN_SECONDS: '5', ENTRY_TTL_MAX_SECONDS: '300' } }, (u, s) => {
    upstream = u;
    service = s;
  });

  it('gives an entry a TTL shorter than ENTRY_TTL_SECONDS when its max-age says so, less its Age', async () => {
    upstream.set('short', { record: record('short'), headers: { 'cache-control': 'public, max-age=15', age: '5' } });
    expect((await read(service, 'short')).status).to.equal(200);
    expect((await read(service, 'short')).cacheStatus).to.equal('freshen; hit; ttl=10');
    clock.advance(10_000);
    expect((await read(service, 'short')).cacheStatus).to.match(/^freshen; fwd=stale; ttl=-1/);
  });

  it('gives an entry a longer TTL, s-maxage before max-age, within ENTRY_TTL_MAX_SECONDS', async () => {
    upstream.set('long', { record: record('long'), headers: { 'cache-control': 'max-age=30, s-maxage=200' } });
    upstream.set('longest', { record: record('longest'), headers: { 'cache-control': 'max-age=86400' } });
    await read(service, 'long');
    await read(service, 'longest');
    clock.advance(120_000);
    expect((await read(service, 'long')).cacheStatus).to.equal('freshen; hit; ttl=80');
    expect((await read(service, 'longest')).cacheStatus).to.equal('freshen; hit; ttl=180');
    clock.advance(180_000);
    expect((await read(service, 'longest')).cacheStatus).to.match(/^freshen; fwd=stale/);
  });

  it('keeps a TTL of at least ENTRY_TTL_MIN_SECONDS, and takes Expires when there is no max-age', async () => {
    upstream.set('zero', { record: record('zero'), headers: { 'cache-control': 'max-age=0' } });
    await read(service, 'zero');
    expect((await read(service, 'zero')).cacheStatus).to.equal('freshen; hit; ttl=5');
    const date = new Date();
    upstream.set('expires', {
      record: record('expires'),
      headers: { date: date.toUTCString(), expires: new Date(date.getTime() + 90_000).toUTCString() },
    });
    await read(service, 'expires');
    expect((await read(service, 'expires')).cacheStatus).to.equal('freshen; hit; ttl=90');
  });

  it('serves a stale entry only as long as stale-while-revalidate allows, then makes the reader wait', async () => {
    upstream.set('swr', { record: record('swr'), headers: { 'cache-control': 'max-age=10, stale-while-revalidate=20' } });
    await read(service, 'swr');
    upstream.set('swr', { delayMs: 100, record: record('swr', { title: 'later' }), headers: { 'cache-control': 'max-age=10, stale-while-revalidate=20' } });
    clock.advance(31_000);
    // Past 10 + 20 s: not served stale (ENTRY_MAX_STALE_SECONDS would allow a day).
    const waited = await read(service, 'swr');
    expect(waited.cacheStatus).to.equal('freshen; fwd=miss; stored');
    expect(waited.body?.data.title).to.equal('later');
  });

  it('answers a no-store record to its readers and keeps nothing of it', async () => {
    upstream.set('ns', { record: record('ns'), headers: { 'cache-control': 'no-store' } });
    const first = await read(service, 'ns');
    expect(first.status).to.equal(200);
    expect(first.cacheStatus).to.equal('freshen; fwd=miss');
    const second = await read(service, 'ns');
    expect(second.cacheStatus).to.equal('freshen; fwd=miss');
    expect(upstream.count('ns')).to.equal(2);
  });
});

describe('UPSTREAM_CACHE_CONTROL=ignore', () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();

  useService({ now: clock.now, env: { ENTRY_TTL_SECONDS: '60', UPSTREAM_CACHE_CONTROL: 'ignore' } }, (u, s) => {
    upstream = u;
    service = s;
  });

  it("keeps ENTRY_TTL_SECONDS whatever the upstream's headers say", async () => {
    upstream.set('i1', { record: record('i1'), headers: { 'cache-control': 'max-age=10' } });
    upstream.set('i2', { record: record('i2'), headers: { 'cache-control': 'no-store' } });
    await read(service, 'i1');
    await read(service, 'i2');
    clock.advance(30_000);
    expect((await read(service, 'i1')).cacheStatus).to.equal('freshen; hit; ttl=30');
    expect((await read(service, 'i2')).cacheStatus).to.equal('freshen; hit; ttl=30');
    expect(upstream.count('i2')).to.equal(1);
  });
});

describe('refresh ahead', () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();

  useService({ now: clock.now, env: { ENTRY_TTL_SECONDS: '60', ENTRY_REFRESH_AHEAD: '0.5' } }, (u, s) => {
    upstream = u;
    service = s;
  });

  it('refreshes an entry read past half its TTL behind the answer, once, so steady reads never see it stale', async () => {
    upstream.set('ra', { record: record('ra') });
    await read(service, 'ra');
    for (let second = 5; second <= 300; second += 5) {
      clock.advance(5000);
      const r = await read(service, 'ra');
      expect(r.cacheStatus, `at ${second} s`).to.match(/^freshen; hit; ttl=/);
      // Each refresh ahead ends before the next read (as one would between reads spread over seconds).
      await waitFor(() => !service.freshness.refreshing('ra') || undefined, 'the refresh ahead to end');
    }
    // One refresh per half TTL of reads: at 30, 60 … 300 s.
    expect(upstream.count('ra')).to.be.within(6, 11);
  });

  it('does not refresh ahead an entry read before that point', async () => {
    upstream.set('rb', { record: record('rb') });
    await read(service, 'rb');
    clock.advance(29_000);
    for (let n = 0; n < 20; n++) expect((await read(service, 'rb')).cacheStatus).to.match(/^freshen; hit/);
    expect(upstream.count('rb')).to.equal(1);
  });
});

describe('404s remembered briefly', () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();

  useService({ now: clock.now, env: { ENTRY_TTL_SECONDS: '3600', ENTRY_NOT_FOUND_TTL_SECONDS: '60' } }, (u, s) => {
    upstream = u;
    service = s;
  });

  it('answers 404 from the copy for ENTRY_NOT_FOUND_TTL_SECONDS, then asks again, however long ENTRY_TTL_SECONDS is', async () => {
    expect((await read(service, 'later')).status).to.equal(404);
    clock.advance(59_000);
    expect((await read(service, 'later')).status).to.equal(404);
    expect(upstream.count('later')).to.equal(1);
    upstream.set('later', { record: record('later') });
    clock.advance(1000);
    expect((await read(service, 'later')).status).to.equal(200);
    expect(upstream.count('later')).to.equal(2);
  });
});
