// miss → hit → stale (served at once, refreshed after) → fresh, on a hand-moved
// clock, through the real HTTP server, pool and database.
import { expect } from 'chai';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

describe('an entry through its life: miss, hit, stale, fresh', () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();

  useService({
    now: clock.now,
    env: { ENTRY_TTL_SECONDS: '60', ENTRY_MAX_STALE_SECONDS: '600' },
  }, (u, s) => {
    upstream = u;
    service = s;
  });

  it('answers a miss by waiting for the upstream, then stores it', async () => {
    upstream.set('a1', { record: record('a1', { title: 'First' }) });
    const res = await service.get('/entries/a1');
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-status')).to.equal('freshen; fwd=miss; stored');
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    const body = (await res.json()) as { id: string; data: { title: string }; fetchedAt: string };
    expect(body.id).to.equal('a1');
    expect(body.data.title).to.equal('First');
    expect(body.fetchedAt).to.equal(new Date(clock.now()).toISOString());
    expect(upstream.count('a1')).to.equal(1);
  });

  it('answers the next read from memory, with ttl, Age and ETag, without asking upstream', async () => {
    clock.advance(20_500);
    const res = await service.get('/entries/a1');
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-status')).to.equal('freshen; hit; ttl=40');
    expect(res.headers.get('age')).to.equal('20');
    expect(res.headers.get('etag')).to.match(/^W\/"[A-Za-z0-9_-]{43}"$/);
    expect(upstream.count('a1')).to.equal(1);
  });

  it('answers If-None-Match with the current ETag by 304', async () => {
    const etag = (await service.get('/entries/a1')).headers.get('etag') as string;
    const res = await service.get('/entries/a1', { 'If-None-Match': etag });
    expect(res.status).to.equal(304);
    expect(await res.text()).to.equal('');
    const other = await service.get('/entries/a1', { 'If-None-Match': 'W/"something-else"' });
    expect(other.status).to.equal(200);
  });

  it('serves a stale row at once, then refreshes it in the background', async () => {
    upstream.set('a1', { record: record('a1', { title: 'Second' }) });
    clock.advance(60_000); // now 80.5 s old: stale
    const res = await service.get('/entries/a1');
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-status')).to.equal('freshen; fwd=stale; ttl=-20');
    expect(((await res.json()) as { data: { title: string } }).data.title).to.equal('First');
    await waitFor(() => upstream.count('a1') === 2, 'the background refresh to reach upstream');
    // The refresh is stored: the next reader gets the fresh row from memory.
    const fresh = await waitFor(async () => {
      const r = await service.get('/entries/a1');
      return r.headers.get('cache-status')?.startsWith('freshen; hit') ? r : undefined;
    }, 'the refreshed row');
    expect(((await fresh.json()) as { data: { title: string } }).data.title).to.equal('Second');
    expect(fresh.headers.get('age')).to.equal('0');
    expect(upstream.count('a1')).to.equal(2);
  });

  it('treats a row more than ENTRY_MAX_STALE_SECONDS past its TTL as a miss and waits for the refresh', async () => {
    upstream.set('a1', { record: record('a1', { title: 'Third' }) });
    clock.advance(661_000);
    const res = await service.get('/entries/a1');
    expect(res.headers.get('cache-status')).to.equal('freshen; fwd=miss; stored');
    expect(((await res.json()) as { data: { title: string } }).data.title).to.equal('Third');
    expect(upstream.count('a1')).to.equal(3);
  });

  it('gives a stale answer a ttl below zero, even within the first second past the TTL', async () => {
    upstream.set('t1', { record: record('t1') });
    expect((await service.get('/entries/t1')).status).to.equal(200);
    clock.advance(60_400);
    const res = await service.get('/entries/t1');
    expect(res.headers.get('age')).to.equal('60');
    expect(res.headers.get('cache-status')).to.equal('freshen; fwd=stale; ttl=-1');
  });

  it('shows an HTML page of the entry to a client that asks for HTML', async () => {
    upstream.set('h1', { record: record('h1', { title: 'A <b>bold</b> title', related: ['a1'] }) });
    const res = await service.get('/entries/h1', { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(res.headers.get('content-security-policy')).to.include("default-src 'none'");
    const html = await res.text();
    expect(html).to.include('<h1>A &#60;b&#62;bold&#60;/b&#62; title</h1>');
    expect(html).to.include('href="/entries/a1"');
    expect(html).to.include('href="/pages/h1.html"');
    expect(html).not.to.include('<b>bold</b>');
  });

  it('shows each request its own cache status and each fetch its own time on the HTML page (kept per fetch, not per request)', async () => {
    const browser = { Accept: 'text/html' };
    upstream.set('h2', { record: record('h2', { title: 'First' }) });
    const miss = await (await service.get('/entries/h2', browser)).text();
    expect(miss).to.include('fwd=miss');
    const hit = await (await service.get('/entries/h2', browser)).text();
    expect(hit).to.include('freshen; hit; ttl=');
    expect(hit).not.to.include('fwd=miss');
    expect(hit.replace(/ · freshen;[^·]*· /, '')).to.equal(miss.replace(/ · freshen;[^·]*· /, ''));

    const fetchedAt = async () => ((await (await service.get('/entries/h2')).json()) as { fetchedAt: string }).fetchedAt;
    const page = async () => (await service.get('/entries/h2', browser)).text();

    // A changed record: its new title.
    clock.advance(61_000);
    upstream.set('h2', { record: record('h2', { title: 'Second' }) });
    await service.get('/entries/h2');
    await waitFor(async () => (await page()).includes('<h1>Second</h1>') || undefined, 'the page of the refreshed record');

    // The same record fetched again (same ETag): the page shows the new fetch time.
    const before = await fetchedAt();
    clock.advance(61_000);
    await service.get('/entries/h2');
    const after = await waitFor(async () => ((await fetchedAt()) !== before ? fetchedAt() : undefined), 'the refresh');
    expect(await page()).to.include(`Fetched ${after}`);
  });
});
