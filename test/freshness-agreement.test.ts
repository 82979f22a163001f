// The freshness rule in both languages: decide() in TypeScript and the lease
// claim's SQL must agree on every row of the decision table, on each database.
// The claim succeeds exactly when decide() asks for a refresh (a wait, a stale
// refresh, or a refresh ahead), and a claim ahead never takes a fresh entry
// short of its refresh-ahead point.
import { expect } from 'chai';
import * as leases from '../db/entry-leases.js';
import { decide, type Decision, type Known } from '../server/freshness/decision.js';
import type { FreshnessPolicy } from '../shared/freshness-policy.js';
import type { Knex } from '../db/knex.js';
import { migratedDatabase } from './support/database.js';
import { gone, now, policy, record, rows } from './support/decision-table.js';

/** Rows at the points where the rule turns: the refresh-ahead point of each kind of TTL. */
const edges: Array<[string, Known]> = [
  ['a record just short of 80% of its TTL', record(239_999)],
  ['a record at 80% of its TTL', record(240_000)],
  ['a record at 80% of its own TTL', record(8000, { ttlMs: 10_000 })],
  ['a record whose 80% point falls between two milliseconds, before it', record(8000, { ttlMs: 10_001 })],
  ['a record whose 80% point falls between two milliseconds, after it', record(8001, { ttlMs: 10_001 })],
  ['a record past 80% of its TTL while its refreshes back off', record(250_000, { errorCode: 'timeout', nextRefreshAt: now + 1000 })],
  ['a 404 past 80% of its TTL (a 404 is never refreshed ahead)', gone(50_000)],
  ['a record whose own TTL is zero', record(0, { ttlMs: 0 })],
];

const policies: Array<[string, FreshnessPolicy]> = [
  ['refresh ahead off', policy],
  ['refresh ahead at 0.8', { ...policy, refreshAhead: 0.8 }],
  ['short TTLs, refresh ahead at 0.5', { ttlMs: 1000, notFoundTtlMs: 500, maxStaleMs: 5000, refreshAhead: 0.5 }],
];

/** Does the decision start a refresh: a plain one, and (when ahead is on) one ahead of the TTL? */
function asksForRefresh(decision: Decision): { plain: boolean; ahead: boolean } {
  const plain = decision.action === 'wait' || (decision.action === 'serve-stale' && decision.refresh);
  return { plain, ahead: plain || (decision.action === 'serve' && decision.refreshAhead) };
}

describe('the freshness rule in TypeScript and in SQL', () => {
  let close: (() => Promise<void>) | undefined;
  let db: Knex;
  const cases: Array<[string, Known | undefined]> = [...rows.map(([name, known]): [string, Known | undefined] => [name, known]), ...edges];

  before(async () => {
    ({ db, close } = await migratedDatabase());
  });
  after(async () => {
    await close?.();
  });

  async function insert(id: string, known: Known | undefined): Promise<void> {
    if (!known) return; // never seen: the claim creates its row
    await db('entries').insert({
      id,
      state: known.state,
      record: known.state === 'ok' ? '{}' : null,
      hash: known.state === 'ok' ? 'h' : null,
      fetched_at: known.fetchedAt,
      error_code: known.errorCode,
      error_count: known.errorCode === null ? 0 : 1,
      next_refresh_at: known.nextRefreshAt,
      ttl_ms: known.ttlMs,
      stale_while_revalidate_ms: known.staleWhileRevalidateMs,
      stale_if_error_ms: known.staleIfErrorMs,
      updated_at: now - 1,
    });
  }

  const claim = (id: string, p: FreshnessPolicy, ahead: boolean) =>
    leases.claimLease(db, { id, owner: 'agreement', now, leaseMs: 1000, policy: p, ahead, create: true });

  policies.forEach(([label, p], k) => {
    it(`claims the lease exactly when decide() asks for a refresh, on every row (${label})`, async () => {
      const disagreements: string[] = [];
      for (const [i, [name, known]] of cases.entries()) {
        const wanted = asksForRefresh(decide(known, 'sql', now, p));
        const plainId = `p${k}-${i}`;
        const aheadId = `a${k}-${i}`;
        await insert(plainId, known);
        await insert(aheadId, known);
        const plain = (await claim(plainId, p, false)) !== undefined;
        const ahead = p.refreshAhead > 0 ? (await claim(aheadId, p, true)) !== undefined : plain;
        if (plain !== wanted.plain) disagreements.push(`${name}: decide() ${wanted.plain ? 'refreshes' : 'does not refresh'}, the claim ${plain ? 'succeeds' : 'fails'}`);
        if (ahead !== wanted.ahead) disagreements.push(`${name}, ahead: decide() ${wanted.ahead ? 'refreshes' : 'does not refresh'}, the claim ${ahead ? 'succeeds' : 'fails'}`);
      }
      expect(disagreements).to.deep.equal([]);
    });
  });

  it('is tried on rows where the two could disagree: each kind of decision appears', () => {
    const actions = new Set(policies.flatMap(([, p]) => cases.map(([, known]) => decide(known, 'sql', now, p).action)));
    expect([...actions].toSorted()).to.deep.equal(['fail', 'not-found', 'serve', 'serve-stale', 'wait']);
  });
});
