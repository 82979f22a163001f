// The updater pool serves the readers who wait first: a refresh whose reader
// gave up (its time in the queue passed UPDATER_TASK_TIMEOUT_MS) does nothing
// when it starts and no longer takes a place in the queue, and background
// work (pages, the index) never takes a worker slot or queue place a miss
// needs. A real pool on the runtime of the pass, a real upstream.
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUpdaterPool, type UpdaterPool } from '../workers/pool.js';
import { record, refreshTask, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const runtime = process.env.TEST_UPDATER_RUNTIME === 'process' ? 'process' : 'thread';

describe(`the updater pool's order of work (${runtime} runtime)`, function () {
  this.timeout(30_000);
  let upstream: TestUpstream;
  let pool: UpdaterPool | undefined;
  let dir: string;

  before(async () => {
    upstream = await startTestUpstream();
    dir = await mkdtemp(join(tmpdir(), 'freshen-deadline-'));
  });
  afterEach(async () => {
    upstream.releaseHeld();
    await pool?.close();
    pool = undefined;
  });
  after(async () => {
    await upstream?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const refresh = (id: string) => refreshTask(upstream, id);

  it('does not fetch for a reader who gave up while the task waited, nor keep its place in the queue', async () => {
    pool = createUpdaterPool({ runtime, minWorkers: 1, maxWorkers: 1, maxQueue: 1, taskTimeoutMs: 600, tasksPerWorker: 1, nice: 0 });
    upstream.set('slow', { record: record('slow'), delayMs: 1500 });
    upstream.set('queued', { record: record('queued') });
    const first = pool.run(refresh('slow'));
    await waitFor(() => upstream.count('slow') === 1 || undefined, 'the first refresh at the upstream');
    const second = pool.run(refresh('queued'));
    expect(pool.hasCapacity(), 'a worker busy, the queue full').to.equal(false);
    expect(await second).to.include({ kind: 'failed', code: 'pool-timeout' });
    // Its reader is gone: the queue has room again while it still waits there.
    expect(pool.hasCapacity()).to.equal(true);
    await first;
    await waitFor(() => pool?.stats().inFlight === 0 || undefined, 'the pool to empty');
    await waitFor(async () => ((await pool?.run(refresh('queued')))?.kind === 'ok') || undefined, 'a refresh of it now');
    // The one given up never reached the upstream: only the last one did.
    expect(upstream.count('queued')).to.equal(1);
  });

  it('keeps background work out of the worker slot and queue that misses need', async () => {
    pool = createUpdaterPool({ runtime, minWorkers: 1, maxWorkers: 1, maxQueue: 0, taskTimeoutMs: 10_000, tasksPerWorker: 2, nice: 0 });
    upstream.set('held', { hang: true });
    const held = pool.run(refresh('held'));
    await waitFor(() => upstream.count('held') === 1 || undefined, 'the held refresh at the upstream');
    const pages = ['bg1', 'bg2', 'bg3'].map((id) =>
      (pool as UpdaterPool).run({ kind: 'publish', id, record: JSON.stringify(record(id)), hash: 'h', fetchedAt: Date.now(), publishDir: dir }),
    );
    // Two slots, one busy: the pages wait, and the other slot stays a miss's.
    await waitFor(() => pool?.stats().backgroundWaiting === 3 || undefined, 'the pages to wait');
    expect(pool.hasCapacity()).to.equal(true);
    upstream.set('miss', { record: record('miss') });
    expect((await pool.run(refresh('miss'))).kind).to.equal('ok');
    upstream.releaseHeld();
    await held;
    for (const page of await Promise.all(pages)) expect(page.kind).to.equal('published');
  });
});
