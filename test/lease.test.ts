// The refresh lease in SQL, on each database: claimed by one conditional
// UPDATE, expiring by itself, and fencing off a late result from a lost lease.
import { expect } from 'chai';
import { backoffMs } from '../shared/backoff.js';
import * as entries from '../db/entries.js';
import * as leases from '../db/entry-leases.js';
import type { Knex } from '../db/knex.js';
import { migratedDatabase } from './support/database.js';

describe('the refresh lease', () => {
  let close: (() => Promise<void>) | undefined;
  let db: Knex;
  const t0 = Date.UTC(2030, 0, 1);
  const result = {
    record: '{"id":"l1"}',
    hash: 'h'.repeat(43),
    related: [],
    title: null,
    validators: { etag: null, lastModified: null },
    freshness: { ttlMs: null, staleWhileRevalidateMs: null, staleIfErrorMs: null, noStore: false },
    tags: [],
  };

  before(async () => {
    ({ db, close } = await migratedDatabase());
  });
  after(async () => {
    await close?.();
  });

  const claim = (owner: string, now: number, extra: Partial<Parameters<typeof leases.claimLease>[1]> = {}) =>
    leases.claimLease(db, { id: 'l1', owner, now, leaseMs: 1000, policy: { ttlMs: 60_000, notFoundTtlMs: 60_000, maxStaleMs: 86_400_000, refreshAhead: 0 }, create: true, ...extra });

  it('is claimed by one of many concurrent claimers', async () => {
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => claim(`owner-${i}`, t0)));
    expect(claims.filter(Boolean)).to.have.length(1);
  });

  it('can be claimed again once it expires, with a new generation', async () => {
    expect(await claim('late', t0 + 999)).to.equal(undefined);
    const second = await claim('second', t0 + 1001);
    expect(second?.generation).to.equal(2);
  });

  it('does not store a late result from a lost lease over a newer one', async () => {
    const first = { source: 'entries', id: 'l1', owner: 'owner-x', generation: 1, errorCount: 0, errorCode: null, error: null, invalidError: null, validators: undefined, tags: null };
    expect((await leases.storeRecord(db, first, t0 + 1500, result)).stored).to.equal(false);
    const row = await entries.getEntry(db, 'l1');
    expect(row?.record).to.equal(null);
    expect(row?.leaseOwner).to.equal('second');
  });

  it('stores the holder’s result and releases the lease', async () => {
    const lease = { source: 'entries', id: 'l1', owner: 'second', generation: 2, errorCount: 0, errorCode: null, error: null, invalidError: null, validators: undefined, tags: null };
    expect((await leases.storeRecord(db, lease, t0 + 1500, result)).stored).to.equal(true);
    const row = await entries.getEntry(db, 'l1');
    expect(row).to.include({ record: result.record, state: 'ok', fetchedAt: t0 + 1500, leaseOwner: null, leaseUntil: 0 });
  });

  it('does not store a late result of the same owner’s earlier lease: the generation fences it, not the owner', async () => {
    const first = await claim('same-owner', t0, { id: 'l2' });
    // The first lease lapses; the same owner claims the entry again.
    const second = await claim('same-owner', t0 + 1001, { id: 'l2' });
    expect(second?.generation).to.equal((first?.generation ?? 0) + 1);
    const late = first as leases.Lease;
    expect((await leases.storeRecord(db, late, t0 + 1500, result)).stored).to.equal(false);
    expect((await leases.storeFailure(db, late, t0 + 1500, { code: 'timeout', message: 'late', nextRefreshAt: t0 + 5000 })).stored).to.equal(false);
    expect(await entries.getEntry(db, 'l2')).to.include({ record: null, errorCode: null, leaseOwner: 'same-owner', leaseGeneration: second?.generation });
    expect((await leases.storeRecord(db, second as leases.Lease, t0 + 1500, result)).stored).to.equal(true);
  });

  it("leaves an operator's request only on a row whose lease is live: a lease that ended would never read it", async () => {
    const held = await claim('holder', t0 + 3000, { id: 'l3' });
    expect(await leases.requestRefresh(db, 'entries', 'l3', t0 + 3500)).to.equal(true);
    await leases.storeRecord(db, held as leases.Lease, t0 + 3600, result);
    // Released: the request is not left on it (the operator's refresh claims the entry instead).
    await db('entries').where({ id: 'l3' }).update({ refresh_requested: false });
    expect(await leases.requestRefresh(db, 'entries', 'l3', t0 + 3700)).to.equal(false);
    expect((await db('entries').where({ id: 'l3' }).first()).refresh_requested).to.be.oneOf([false, 0]);
    expect(await leases.requestRefresh(db, 'entries', 'no-such-row', t0 + 3700)).to.equal(false);
  });

  it('is not claimed for an entry that is still fresh, or in backoff, unless forced', async () => {
    expect(await claim('eager', t0 + 2000)).to.equal(undefined);
    const lease = await claim('operator', t0 + 2000, { force: true });
    expect(lease?.generation).to.equal(3);
    await leases.storeFailure(db, lease as leases.Lease, t0 + 2000, {
      code: 'unavailable',
      message: 'upstream answered 503',
      nextRefreshAt: t0 + 200_000,
    });
    expect(await claim('eager', t0 + 100_000)).to.equal(undefined);
    const row = await entries.getEntry(db, 'l1');
    expect(row).to.include({ errorCode: 'unavailable', errorCount: 1, nextRefreshAt: t0 + 200_000, state: 'ok' });
    expect(await claim('eager', t0 + 200_000)).to.not.equal(undefined);
  });
});

describe('refresh backoff', () => {
  it('waits at least 1 s, doubles per failure with up to 25% jitter, and stops at the cap', () => {
    expect(backoffMs(1, 300_000, () => 0)).to.equal(1000);
    expect(backoffMs(1, 300_000, () => 0.999)).to.be.within(1000, 1250);
    expect(backoffMs(2, 300_000, () => 0)).to.equal(2000);
    expect(backoffMs(5, 300_000, () => 0)).to.equal(16_000);
    expect(backoffMs(30, 300_000, () => 0.5)).to.equal(300_000);
    expect(backoffMs(1000, 300_000, () => 0)).to.equal(300_000);
  });
});
