// One refresh per entry at a time: in a process (the in-flight map) and
// across processes sharing the database (the SQL lease).
import { expect } from 'chai';
import { startTestUpstream, record, type TestUpstream } from './support/upstream.js';
import { startTestService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

/** n concurrent reads of one entry. */
async function readAll(service: TestService, id: string, n: number) {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await service.get(`/entries/${id}`);
      return { status: res.status, cacheStatus: res.headers.get('cache-status') ?? '', body: await res.text() };
    }),
  );
}

describe('single flight', () => {
  let upstream: TestUpstream;
  const clock = manualClock();
  let a: TestService;
  let b: TestService;

  before(async () => {
    upstream = await startTestUpstream();
    const env = { ENTRY_TTL_SECONDS: '60' };
    a = await startTestService(upstream.url, { now: clock.now, env });
    // A second service on the same database stands for a second process: its
    // own memory tier, pool and in-flight map; only the SQL lease is shared.
    b = await startTestService(upstream.url, { now: clock.now, env, database: a.database });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await upstream?.close();
  });

  it('makes exactly one upstream request for 100 concurrent reads of a missing entry, and they share its result', async () => {
    upstream.set('m1', { record: record('m1'), delayMs: 300 });
    const answers = await readAll(a, 'm1', 100);
    expect(upstream.count('m1')).to.equal(1);
    expect(answers.map((x) => x.status)).to.deep.equal(Array(100).fill(200));
    expect(new Set(answers.map((x) => x.body)).size).to.equal(1);
    const statuses = answers.map((x) => x.cacheStatus);
    expect(statuses.filter((s) => s === 'freshen; fwd=miss; stored')).to.have.length(1);
    expect(statuses.filter((s) => s === 'freshen; fwd=miss; collapsed').length).to.be.greaterThan(50);
  });

  it('makes exactly one upstream request for 100 concurrent reads of a stale entry, all answered stale at once', async () => {
    upstream.set('s1', { record: record('s1', { title: 'old' }) });
    await a.get('/entries/s1');
    expect(upstream.count('s1')).to.equal(1);
    // Slow enough that the refresh cannot end within the burst, even on a busy
    // machine (within the test service's 2 s upstream timeout).
    upstream.set('s1', { record: record('s1', { title: 'new' }), delayMs: 1500 });
    clock.advance(61_000);
    const answers = await readAll(a, 's1', 100);
    expect(answers.every((x) => x.status === 200 && x.cacheStatus.startsWith('freshen; fwd=stale'))).to.equal(true);
    expect(answers.every((x) => x.body.includes('"title":"old"'))).to.equal(true);
    await waitFor(async () => (await a.get('/entries/s1')).headers.get('cache-status')?.includes('hit'), 'the refresh');
    expect(upstream.count('s1')).to.equal(2);
  });

  it('makes one upstream request when two processes read the same missing entry at once', async () => {
    upstream.set('x1', { record: record('x1'), delayMs: 300 });
    const [fromA, fromB] = await Promise.all([readAll(a, 'x1', 40), readAll(b, 'x1', 40)]);
    expect(upstream.count('x1')).to.equal(1);
    expect([...fromA, ...fromB].every((x) => x.status === 200)).to.equal(true);
    // Process b waited on a's lease and read the stored row (or the other way round).
    expect([...fromA, ...fromB].some((x) => x.cacheStatus === 'freshen; fwd=miss; stored')).to.equal(true);
  });

  it('makes one upstream request when two processes find the same entry stale', async () => {
    upstream.set('x2', { record: record('x2') });
    await a.get('/entries/x2');
    await b.get('/entries/x2');
    expect(upstream.count('x2')).to.equal(1);
    upstream.set('x2', { record: record('x2', { title: 'x2 again' }), delayMs: 200 });
    clock.advance(61_000);
    await Promise.all([readAll(a, 'x2', 30), readAll(b, 'x2', 30)]);
    await waitFor(async () => (await a.get('/entries/x2')).headers.get('cache-status')?.includes('hit'), 'the refresh');
    // b's memory row is stale; it checks SQL, finds a's refresh, and needs no request of its own.
    const fromB = await b.get('/entries/x2');
    expect(fromB.headers.get('cache-status')).to.match(/^freshen; hit/);
    expect(await fromB.text()).to.include('x2 again');
    expect(upstream.count('x2')).to.equal(2);
  });
});
