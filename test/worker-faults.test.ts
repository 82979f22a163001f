// A worker that dies or hangs mid-task, in either runtime, is replaced; only
// its own tasks fail, and their readers are still answered.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

const faultyModule = new URL('./support/faulty-updater.js', import.meta.url);

describe(`updater worker faults (${process.env.TEST_UPDATER_RUNTIME || 'thread'} runtime)`, () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();

  useService({
    now: clock.now,
    updaterModule: faultyModule,
    env: {
      ENTRY_TTL_SECONDS: '60',
      UPDATER_MIN_WORKERS: '1',
      UPDATER_MAX_WORKERS: '1',
      UPDATER_TASK_TIMEOUT_MS: '1500',
      UPSTREAM_TIMEOUT_MS: '1000',
    },
  }, (u, s) => {
    upstream = u;
    service = s;
  });

  it('answers the reader of a refresh whose worker dies, and replaces the worker', async () => {
    upstream.set('crash1', { record: record('crash1', { fault: 'crash' }) });
    const res = await service.get('/entries/crash1');
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.match(/^\d+$/);
    upstream.set('after-crash', { record: record('after-crash') });
    expect((await service.get('/entries/after-crash')).status).to.equal(200);
    expect(service.pool.stats().workers).to.be.at.least(1);
  });

  it('serves the stale row when the refresh’s worker dies, and records the failure', async () => {
    upstream.set('s1', { record: record('s1', { title: 'kept' }) });
    expect((await service.get('/entries/s1')).status).to.equal(200);
    upstream.set('s1', { record: record('s1', { fault: 'crash' }) });
    clock.advance(61_000);
    const stale = await service.get('/entries/s1');
    expect(stale.status).to.equal(200);
    expect(await stale.text()).to.include('"title":"kept"');
    await waitFor(async () => (await service.get('/entries/s1')).headers.get('cache-status')?.includes('detail=backoff'), 'the failure to be recorded');
  });

  it('keeps serving when an idle worker dies, and refreshes on its replacement', async () => {
    const mark = join(service.files, 'worker-gone');
    upstream.set('bye1', { record: record('bye1', { fault: 'exit-when-idle', mark }) });
    expect((await service.get('/entries/bye1')).status).to.equal(200);
    await waitFor(() => existsSync(mark), 'the idle worker to die');
    upstream.set('after-bye', { record: record('after-bye') });
    const next = await waitFor(async () => {
      const r = await service.get('/entries/after-bye');
      return r.status === 200 ? r : undefined;
    }, 'a refresh on the replacement worker', 10_000);
    expect(next.headers.get('cache-status')).to.match(/fwd=miss|hit/);
    expect((await service.get('/healthz')).status).to.equal(200);
    // Its page too is written by the replacement (and leaves the worker idle for the next test).
    await waitFor(() => existsSync(join(service.config.publish.dir, 'after-bye.html')), 'the page of after-bye');
  });

  it('kills and replaces a worker that hangs past UPDATER_TASK_TIMEOUT_MS; the reader gets 504 (or 503) in time', async () => {
    const killed = service.pool.stats().killed;
    upstream.set('hang1', { record: record('hang1', { fault: 'hang' }) });
    const started = performance.now();
    const res = await service.get('/entries/hang1');
    // 504 when the reader's wait ends first; 503 (the worker's failure) when a
    // background task on the same worker passed its own bound first and the
    // watchdog killed the worker under both: either way, in time, with Retry-After.
    expect(res.status, `${res.headers.get('cache-status')} ${await res.text()}`).to.be.oneOf([503, 504]);
    expect(res.headers.get('retry-after')).to.match(/^\d+$/);
    expect(performance.now() - started).to.be.below(1500 + 1500);
    await waitFor(() => service.pool.stats().killed === killed + 1, 'the hung worker to be killed');
    // The only worker was the hung one: its replacement does the next refresh.
    upstream.set('after-hang', { record: record('after-hang') });
    const next = await waitFor(async () => {
      const r = await service.get('/entries/after-hang');
      return r.status === 200 ? r : undefined;
    }, 'a refresh on the replacement worker', 10_000);
    expect(next.headers.get('cache-status')).to.match(/fwd=miss|hit/);
  });
});
