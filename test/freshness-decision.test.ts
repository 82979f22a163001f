// The freshness rule as a table: for what memory or the SQL copy holds of an
// entry, at a given time, under a given policy, what a read does. No server,
// no database, no sleep — the time is a parameter.
import { expect } from 'chai';
import { decide } from '../server/freshness/decision.js';
import { now, policy, record, rows, SERVE } from './support/decision-table.js';

describe('the freshness decision', () => {
  for (const [name, known, source, expected] of rows) {
    it(name, () => {
      expect(decide(known, source, now, policy)).to.deep.equal(expected);
    });
  }

  it('takes each entry’s TTL from the policy it is given', () => {
    const short = { ...policy, ttlMs: 1000, maxStaleMs: 5000 };
    expect(decide(record(999), 'sql', now, short)).to.deep.equal(SERVE);
    expect(decide(record(1000), 'sql', now, short)).to.deep.equal({ action: 'serve-stale', refresh: true });
    // ENTRY_MAX_STALE counts from the end of the TTL.
    expect(decide(record(6000), 'sql', now, short)).to.deep.equal({ action: 'serve-stale', refresh: true });
    expect(decide(record(6001), 'sql', now, short)).to.deep.equal({ action: 'wait' });
  });

  it('serves nothing stale when ENTRY_MAX_STALE is zero', () => {
    const strict = { ...policy, ttlMs: 1000, maxStaleMs: 0 };
    expect(decide(record(1000), 'sql', now, strict)).to.deep.equal({ action: 'wait' });
  });

  it('serves a hit past ENTRY_REFRESH_AHEAD of its TTL and refreshes it ahead, from memory and from SQL', () => {
    const ahead = { ...policy, refreshAhead: 0.8 };
    expect(decide(record(239_999), 'memory', now, ahead)).to.deep.equal(SERVE);
    expect(decide(record(240_000), 'memory', now, ahead)).to.deep.equal({ action: 'serve', refreshAhead: true });
    expect(decide(record(240_000), 'sql', now, ahead)).to.deep.equal({ action: 'serve', refreshAhead: true });
    // Of its own TTL, too.
    expect(decide(record(8000, { ttlMs: 10_000 }), 'memory', now, ahead)).to.deep.equal({ action: 'serve', refreshAhead: true });
    // Not while its refreshes back off: the backoff holds for refreshes ahead too.
    expect(decide(record(240_000, { errorCode: 'timeout', nextRefreshAt: now + 1 }), 'memory', now, ahead)).to.deep.equal(SERVE);
    // Once stale it is a stale read like any other.
    expect(decide(record(300_000), 'sql', now, ahead)).to.deep.equal({ action: 'serve-stale', refresh: true });
  });
});
