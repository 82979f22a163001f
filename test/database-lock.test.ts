// A read never waits on a write: while another connection holds the write
// lock (a long transaction elsewhere), stale entries are still answered at
// once, although their refreshes cannot store anything until it ends.
import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPostgres, openDatabase, type Knex } from '../db/knex.js';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

describe('reads while the database is locked for writing', () => {
  let upstream: TestUpstream;
  let service: TestService;
  let other: Knex;
  const clock = manualClock();

  useService({ now: clock.now, env: { ENTRY_TTL_SECONDS: '60' } }, (u, s) => {
    upstream = u;
    service = s;
  });
  before(() => {
    other = openDatabase(service.config.database);
  });
  after(() => other?.destroy());

  it('answers stale entries at once while their refreshes wait for the lock', async function () {
    this.timeout(30_000);
    for (const id of ['k1', 'k2', 'k3']) {
      upstream.set(id, { record: record(id) });
      expect((await service.get(`/entries/${id}`)).status).to.equal(200);
    }
    clock.advance(61_000);
    // Another writer: SQLite's write lock (any UPDATE in a transaction), or an
    // EXCLUSIVE table lock in Postgres (which still lets readers in).
    const lock = await other.transaction();
    await lock.raw(isPostgres(other) ? 'lock table entries in exclusive mode' : "update entries set updated_at = updated_at where id = 'none'");
    try {
      // The first refresh now waits for the lock; the reads after it must
      // not. A read queued behind that wait would be answered only when the
      // lock ends or the wait gives up (SQLite's busy timeout, 5 s): the
      // deadline is half of that.
      for (const id of ['k1', 'k2', 'k3']) {
        const res = await Promise.race([service.get(`/entries/${id}`), sleep(2500).then(() => undefined)]);
        expect(res, `${id} answered while the lock is held`).not.to.equal(undefined);
        expect(res?.status).to.equal(200);
        expect(res?.headers.get('cache-status')).to.match(/^freshen; fwd=stale; ttl=-\d+$/);
        await res?.body?.cancel();
      }
    } finally {
      await lock.rollback();
    }
    // Once it ends, the refreshes go through.
    await waitFor(() => upstream.count('k1') >= 2, 'the refresh of k1 after the lock', 10_000);
  });
});
