// When the updater pool and its queue are full, stale reads are still
// answered (their refresh skipped and counted) and misses get 503 + Retry-After.
import { expect } from 'chai';
import { startTestUpstream, record, type TestUpstream } from './support/upstream.js';
import { startTestService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

describe('a full updater pool', () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();
  const held: Array<Promise<Response>> = [];

  before(async () => {
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url, {
      now: clock.now,
      env: {
        ENTRY_TTL_SECONDS: '60',
        UPDATER_MIN_WORKERS: '1',
        UPDATER_MAX_WORKERS: '1',
        UPDATER_TASKS_PER_WORKER: '1',
        UPDATER_MAX_QUEUE: '1',
        UPSTREAM_TIMEOUT_MS: '10000',
        UPDATER_TASK_TIMEOUT_MS: '15000',
      },
    });
    upstream.set('s1', { record: record('s1') });
    expect((await service.get('/entries/s1')).status).to.equal(200);

    // One refresh on the only worker slot, one in the queue.
    upstream.set('p1', { hang: true });
    upstream.set('p2', { hang: true });
    held.push(service.get('/entries/p1'));
    await waitFor(() => upstream.count('p1') === 1, 'p1 to reach the upstream');
    held.push(service.get('/entries/p2'));
    await waitFor(() => service.pool.stats().queued === 1, 'p2 to wait in the queue');
  });
  after(async () => {
    upstream?.releaseHeld();
    await Promise.allSettled(held);
    await service?.stop();
    await upstream?.close();
  });

  it('answers a miss with 503 and Retry-After, without asking the upstream', async () => {
    upstream.set('p3', { record: record('p3') });
    const res = await service.get('/entries/p3');
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.equal('1');
    expect(res.headers.get('cache-status')).to.equal('freshen; fwd=miss; detail=overloaded');
    expect(((await res.json()) as { type: string }).type).to.equal('urn:freshen:problem:overloaded');
    expect(upstream.count('p3')).to.equal(0);
  });

  it('still answers a stale read, skipping and counting its refresh', async () => {
    const skipped = service.freshness.counters().refreshSkipped;
    clock.advance(61_000);
    const res = await service.get('/entries/s1');
    expect(res.status).to.equal(200);
    expect(res.headers.get('cache-status')).to.match(/^freshen; fwd=stale/);
    expect(service.freshness.counters().refreshSkipped).to.equal(skipped + 1);
    expect(upstream.count('s1')).to.equal(1);
  });

  it('takes work again once the pool drains', async () => {
    upstream.set('p2', { status: 503 });
    upstream.releaseHeld();
    const answers = await Promise.all(held);
    expect(answers.map((r) => r.status)).to.deep.equal([503, 503]);
    const res = await service.get('/entries/p3');
    expect(res.status).to.equal(200);
  });
});
