// What one process asks of the upstream at most: UPSTREAM_MAX_RPS requests
// started in any second, however many readers miss at once, with misses sent
// ahead of stale refreshes. A real loopback upstream records when each request
// arrives; a burst of 1,000 distinct misses is thrown at a cap of 50 a second.
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const RPS = 50;
const misses = Array.from({ length: 1000 }, (_, i) => `m${i}`);
const fewer = Array.from({ length: 2 * RPS }, (_, i) => `n${i}`);
const stale = Array.from({ length: 20 }, (_, i) => `s${i}`);

/** The most requests that arrived within any one second. */
function busiestSecond(times: number[]): number {
  const sorted = times.toSorted((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] as number) <= (sorted[i] as number) - 1000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('the upstream caps', function () {
  this.timeout(60_000);
  let upstream: TestUpstream;
  let service: TestService;

  before(async () => {
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url, {
      env: { UPSTREAM_MAX_RPS: String(RPS), UPDATER_MAX_QUEUE: '5000', ENTRY_TTL_SECONDS: '1' },
    });
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
  });

  it(`starts at most ${RPS} upstream requests in any second under a burst of 1,000 misses`, async () => {
    for (const id of [...misses, ...fewer, ...stale]) upstream.set(id, { record: record(id) });
    for (const id of stale) expect((await service.get(`/entries/${id}`)).status).to.equal(200);
    await sleep(1100); // the twenty stored entries are stale now (TTL 1 s)
    const from = upstream.paths.length;

    const burst = misses.map(async (id) => {
      const res = await service.get(`/entries/${id}`);
      await res.arrayBuffer();
      return { status: res.status, retryAfter: res.headers.get('retry-after') };
    });
    // Stale reads while misses wait: answered at once, their refreshes behind every waiting miss.
    await sleep(50);
    for (const id of stale) {
      const res = await service.get(`/entries/${id}`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('cache-status')).to.match(/^freshen; fwd=stale/);
    }
    const answers = await Promise.all(burst);

    const paths = upstream.paths.slice(from);
    const arrivals = upstream.arrivals.slice(from);
    expect(busiestSecond(arrivals), 'upstream requests in the busiest second').to.be.at.most(RPS);
    const served = answers.filter((a) => a.status === 200).length;
    // Each miss waits at most UPSTREAM_TIMEOUT_MS (2 s here) for its turn: a few seconds' worth are
    // served (the burst itself takes a while to arrive); the rest are told to come back.
    expect(served).to.be.within(RPS, 5 * RPS);
    expect(served).to.be.below(misses.length);
    for (const a of answers.filter((x) => x.status !== 200)) {
      expect(a.status).to.equal(503);
      expect(Number(a.retryAfter)).to.be.at.least(1);
    }
    expect(paths.filter((p) => p.startsWith('/items/m'))).to.have.length(served);
    // Turned away by the cap, and counted: the misses answered 503, and the stale refreshes dropped.
    const metrics = await (await service.get('/metrics')).text();
    expect(Number(/^freshen_upstream_capped_total\{priority="miss"\} (\d+)/m.exec(metrics)?.[1])).to.equal(misses.length - served);
    expect(Number(/^freshen_upstream_capped_total\{priority="background"\} (\d+)/m.exec(metrics)?.[1])).to.be.above(0);

    // A stale refresh dropped for the cap is asked again by the next read.
    await waitFor(
      async () => {
        const fresh = await Promise.all(stale.map(async (id) => ((await service.get(`/entries/${id}`)).headers.get('cache-status') ?? '').startsWith('freshen; hit')));
        return fresh.some(Boolean);
      },
      'a stale entry refreshed once the burst has passed',
      10_000,
    );
    expect(busiestSecond(upstream.arrivals.slice(from))).to.be.at.most(RPS);
  });

  it('sends the misses waiting for the cap ahead of stale refreshes, which the next reads ask again', async () => {
    // Two seconds' worth of misses at once, and stale reads while they wait.
    await sleep(1100); // the window of the last test has passed, and the stale entries are stale again
    const from = upstream.paths.length;
    const burst = fewer.map(async (id) => (await service.get(`/entries/${id}`)).status);
    // The second second's worth waiting for the cap (each miss reads the copy first).
    await waitFor(
      async () => Number(/^freshen_upstream_waiting\{priority="miss"\} (\d+)/m.exec(await (await service.get('/metrics')).text())?.[1]) >= RPS / 2,
      'misses waiting for the cap',
      3000,
    );
    const staleRead = stale.slice(0, 10);
    for (const id of staleRead) expect((await service.get(`/entries/${id}`)).status).to.equal(200);
    expect(await Promise.all(burst)).to.deep.equal(fewer.map(() => 200));
    // Those the cap dropped meanwhile are asked again by the next reads.
    await waitFor(
      async () => {
        for (const id of staleRead) await (await service.get(`/entries/${id}`)).arrayBuffer();
        return staleRead.every((id) => upstream.paths.slice(from).includes(`/items/${id}`));
      },
      'the stale refreshes to be sent',
      5000,
    );
    const sent = upstream.paths.slice(from);
    const lastMiss = Math.max(...fewer.map((id) => sent.indexOf(`/items/${id}`)));
    const firstStale = Math.min(...staleRead.map((id) => sent.indexOf(`/items/${id}`)));
    expect(firstStale, 'the first stale refresh comes after the last waiting miss').to.be.above(lastMiss);
  });

  it('has at most UPSTREAM_MAX_CONCURRENCY requests in flight, however many misses wait', async () => {
    const capped = await startTestService(upstream.url, { env: { UPSTREAM_MAX_CONCURRENCY: '2', UPDATER_MAX_QUEUE: '100' } });
    try {
      const slow = Array.from({ length: 12 }, (_, i) => `c${i}`);
      for (const id of slow) upstream.set(id, { record: record(id), delayMs: 100 });
      upstream.resetMostAtOnce();
      const statuses = await Promise.all(slow.map(async (id) => (await capped.get(`/entries/${id}`)).status));
      expect(statuses).to.deep.equal(slow.map(() => 200));
      expect(upstream.mostAtOnce(), 'upstream requests at once').to.equal(2);
    } finally {
      await capped.stop();
    }
  });
});
