// Faults inside the updater's task, in either runtime: a task that throws, a
// worker that runs out of memory, and a record nested too deep to handle. The
// reader of a stale row is still answered from it, the failure is recorded,
// and the pool does the next refresh. (Workers that exit or hang:
// worker-faults.test.ts.)
import { expect } from 'chai';
import * as entries from '../db/entries.js';
import { openDatabase, type Knex } from '../db/knex.js';
import * as outbox from '../db/outbox.js';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

const faultyModule = new URL('./support/faulty-updater.js', import.meta.url);
const runtime = process.env.TEST_UPDATER_RUNTIME || 'thread';

describe(`updater tasks that throw or run out of memory (${runtime} runtime)`, function () {
  this.timeout(60_000);
  let upstream: TestUpstream;
  let service: TestService;
  let db: Knex;
  const clock = manualClock();

  useService({
    now: clock.now,
    updaterModule: faultyModule,
    env: {
      ENTRY_TTL_SECONDS: '60',
      UPDATER_MIN_WORKERS: '1',
      UPDATER_MAX_WORKERS: '1',
      // Filling a 512 MB heap takes a few seconds: not to be taken for a hang.
      UPDATER_TASK_TIMEOUT_MS: '30000',
      UPSTREAM_TIMEOUT_MS: '1000',
    },
  }, (u, s) => {
    upstream = u;
    service = s;
  });
  before(() => {
    db = openDatabase(service.config.database);
  });
  after(() => db?.destroy());

  /** Store `id` good, turn it stale, make its next refresh hit `fault`, and read it. */
  async function staleReadWith(id: string, fault: string): Promise<Response> {
    upstream.set(id, { record: record(id, { title: 'kept' }) });
    expect((await service.get(`/entries/${id}`)).status).to.equal(200);
    upstream.set(id, { record: record(id, { fault }) });
    clock.advance(61_000);
    return service.get(`/entries/${id}`);
  }

  async function nextRefreshWorks(id: string): Promise<void> {
    upstream.set(id, { record: record(id) });
    const res = await waitFor(async () => {
      const r = await service.get(`/entries/${id}`);
      return r.status === 200 ? r : undefined;
    }, `a refresh of ${id} after the fault`, 20_000);
    expect(res.headers.get('cache-status')).to.match(/fwd=miss|hit/);
  }

  it('serves the stale row when the task throws, records the failure, and keeps the worker', async () => {
    const stale = await staleReadWith('throw1', 'throw');
    expect(stale.status).to.equal(200);
    expect(stale.headers.get('cache-status')).to.match(/^freshen; fwd=stale/);
    expect(await stale.text()).to.include('"title":"kept"');
    const row = await waitFor(async () => {
      const r = await entries.getEntry(db, 'throw1');
      return r?.errorCode ? r : undefined;
    }, 'the failure to be recorded', 10_000);
    expect(row.errorCode).to.equal('worker-error');
    expect(row.errorCount).to.equal(1);
    expect(JSON.parse(row.record ?? '{}')).to.include({ title: 'kept' });
    // A thrown task is not a dead worker.
    expect(service.pool.stats()).to.include({ killed: 0, idleDeaths: 0 });
    await nextRefreshWorks('after-throw');
  });

  it('serves the stale row when the worker runs out of memory, records the failure, and replaces the worker', async () => {
    const stale = await staleReadWith('oom1', 'oom');
    expect(stale.status).to.equal(200);
    expect(await stale.text()).to.include('"title":"kept"');
    const row = await waitFor(async () => {
      const r = await entries.getEntry(db, 'oom1');
      return r?.errorCode ? r : undefined;
    }, 'the failure to be recorded', 40_000);
    expect(row.errorCode).to.equal('worker-error');
    expect(JSON.parse(row.record ?? '{}')).to.include({ title: 'kept' });
    // Answered from the row while the entry backs off.
    const again = await service.get('/entries/oom1');
    expect(again.status).to.equal(200);
    expect(again.headers.get('cache-status')).to.include('detail=backoff');
    await nextRefreshWorks('after-oom');
    expect(service.pool.stats().workers).to.be.at.least(1);
    expect((await service.get('/healthz')).status).to.equal(200);
  });
});

/** A valid record whose `extra` field is `depth` arrays inside each other. */
function nested(id: string, depth: number): string {
  const text = JSON.stringify(record(id));
  return `${text.slice(0, -1)},"extra":${'['.repeat(depth)}${']'.repeat(depth)}}`;
}

describe(`a record nested too deep (${runtime} runtime)`, function () {
  this.timeout(30_000);
  let upstream: TestUpstream;
  let service: TestService;
  let db: Knex;

  useService({ env: { CONTENT_TEAM: 'content@example.test', ENTRY_TTL_SECONDS: '60' } }, (u, s) => {
    upstream = u;
    service = s;
  });
  before(() => {
    db = openDatabase(service.config.database);
  });
  after(() => db?.destroy());

  it('is invalid data: 502, the content team told, no worker error', async () => {
    upstream.set('deep1', { status: 200, body: nested('deep1', 100_000) });
    const res = await service.get('/entries/deep1');
    expect(res.status).to.equal(502);
    expect(((await res.json()) as { type: string }).type).to.equal('urn:freshen:problem:upstream-invalid');
    const row = await entries.getEntry(db, 'deep1');
    expect(row?.errorCode).to.equal('invalid');
    const notices = (await outbox.listMessages(db, 10)).filter((m) => m.kind === 'invalid-data');
    expect(notices).to.have.length(1);
    expect(notices[0]?.text).to.match(/nested/);
    expect(service.pool.stats()).to.include({ killed: 0, idleDeaths: 0 });
  });

  it('still stores a record nested a few levels deep', async () => {
    upstream.set('deep2', { status: 200, body: nested('deep2', 20) });
    const res = await service.get('/entries/deep2');
    expect(res.status).to.equal(200);
  });
});
