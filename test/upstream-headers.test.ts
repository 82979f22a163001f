// What the upstream's headers do to an entry at their edges: a 304 that says
// nothing of freshness keeps what the stored record had (RFC 9111 §4.3.4); a
// stale window of any size is kept within a year (and stored, on Postgres's
// bigint too); a no-store record goes to its readers as no-store; and every
// entry keeps ENTRY_MAX_STALE_SECONDS past its own TTL, however long that is.
import { expect } from 'chai';
import * as entries from '../db/entries.js';
import { openDatabase, type Knex } from '../db/knex.js';
import { loadConfig } from '../server/config/config.js';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

const YEAR_MS = 365 * 86_400_000;

describe("the upstream's headers at their edges", () => {
  let upstream: TestUpstream;
  let service: TestService;
  let db: Knex;
  const clock = manualClock();

  useService({ now: clock.now, env: { ENTRY_TTL_SECONDS: '60', ENTRY_TTL_MAX_SECONDS: '3600', ENTRY_MAX_STALE_SECONDS: '600' } }, (u, s) => {
    upstream = u;
    service = s;
    db = openDatabase(loadConfig({ DATABASE_URL: s.database.url }).database);
  });
  after(async () => {
    await db?.destroy();
  });

  const cacheStatus = async (id: string) => (await service.get(`/entries/${id}`)).headers.get('cache-status');

  it("keeps the stored record's max-age when a 304 says nothing of freshness", async () => {
    upstream.set('m1', { record: record('m1'), etag: '"v1"', headers: { 'cache-control': 'max-age=200' } });
    expect(await cacheStatus('m1')).to.equal('freshen; fwd=miss; stored');
    // The upstream's 304s now come without Cache-Control.
    upstream.set('m1', { record: record('m1'), etag: '"v1"' });
    clock.advance(201_000);
    expect(await cacheStatus('m1')).to.match(/^freshen; fwd=stale/);
    await waitFor(() => upstream.notModified('m1') === 1 || undefined, 'the conditional refresh');
    await waitFor(async () => (await cacheStatus('m1')) === 'freshen; hit; ttl=200' || undefined, 'a hit with the stored max-age, not ENTRY_TTL_SECONDS');
    expect((await entries.getEntry(db, 'm1'))?.ttlMs).to.equal(200_000);
  });

  it('stores a record whose stale windows are beyond any number, keeping each within a year', async () => {
    upstream.set('w1', { record: record('w1'), headers: { 'cache-control': 'max-age=10, stale-while-revalidate=99999999999999999, stale-if-error=99999999999999999' } });
    expect(await cacheStatus('w1')).to.equal('freshen; fwd=miss; stored');
    const row = await entries.getEntry(db, 'w1');
    expect(row).to.include({ state: 'ok', staleWhileRevalidateMs: YEAR_MS, staleIfErrorMs: YEAR_MS });
  });

  it('answers a record the upstream marked no-store with Cache-Control: no-store, and others with no-cache', async () => {
    upstream.set('n1', { record: record('n1'), headers: { 'cache-control': 'no-store' } });
    const res = await service.get('/entries/n1');
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    expect((await service.get('/entries/w1')).headers.get('cache-control')).to.equal('no-cache');
  });

  it('serves an entry whose own TTL is the longest allowed stale for ENTRY_MAX_STALE_SECONDS past it, through an outage', async () => {
    upstream.set('l1', { record: record('l1'), headers: { 'cache-control': 'max-age=86400' } });
    expect(await cacheStatus('l1')).to.equal('freshen; fwd=miss; stored');
    upstream.set('l1', { status: 503 });
    clock.advance(3_600_000 + 300_000);
    const res = await service.get('/entries/l1');
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-status')).to.match(/^freshen; fwd=stale/);
  });
});
