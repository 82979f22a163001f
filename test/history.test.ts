// The status page's history: fixed-size rings (memory bounded however long a
// process runs), rates from counters, and several processes merged as one node.
import { expect } from 'chai';
import { createHistory, mergeHistories, type Sample } from '../server/ops/history.js';
import { waitFor } from './support/wait.js';

describe('the status page history', () => {
  it('keeps the last 300 seconds and the last hour in rings of fixed size, rates from counters', async () => {
    let hits = 0;
    // A sample every millisecond: the rings fill in well under a second, and stay full.
    const history = createHistory(1);
    history.watch({ counts: () => ({ hit: (hits += 5) }), gauges: () => ({ queued: 3 }) });
    try {
      await waitFor(() => history.lastMinutes().length === 300 && hits > 5 * 700, 'the minutes ring full, and more', 10_000);
      const minutes = history.lastMinutes();
      expect(minutes).to.have.length(300);
      expect(minutes.every((s) => s.queued === 3 && (s.hit ?? 0) > 0)).to.equal(true);
      // Oldest first.
      expect(minutes.every((s, i) => i === 0 || s.at >= (minutes[i - 1] as Sample).at)).to.equal(true);
      // Twelve seconds to a point of the hour (the last one partly folded).
      const samples = hits / 5 - 1;
      expect(history.lastHour().length).to.be.within(Math.floor(samples / 12) - 3, Math.min(301, Math.ceil(samples / 12) + 3));
    } finally {
      history.stop();
    }
  });

  it("merges a cluster's processes as one node: rates and queues add up, shared readings and worst cases do not", () => {
    const a: Sample[] = [
      { at: 1, hit: 10, queued: 1, busy: 0.5, latencyP99: 40, outboxUnsent: 7, breakerOpen: 0 },
      { at: 2, hit: 20, queued: 2, busy: 1, latencyP99: 30, outboxUnsent: 7, breakerOpen: 1 },
    ];
    const b: Sample[] = [{ at: 2, hit: 5, queued: 4, busy: 0, latencyP99: 90, outboxUnsent: 7, breakerOpen: 1 }];
    const merged = mergeHistories([
      { lastMinutes: a, lastHour: [], processes: 1 },
      { lastMinutes: b, lastHour: [], processes: 1 },
    ]);
    expect(merged.processes).to.equal(2);
    // Aligned from the newest: b's one sample goes with a's last.
    expect(merged.lastMinutes).to.deep.equal([
      { at: 1, hit: 10, queued: 1, busy: 0.5, latencyP99: 40, outboxUnsent: 7, breakerOpen: 0 },
      { at: 2, hit: 25, queued: 6, busy: 0.5, latencyP99: 90, outboxUnsent: 7, breakerOpen: 1 },
    ]);
    expect(merged.lastHour).to.deep.equal([]);
  });
});
