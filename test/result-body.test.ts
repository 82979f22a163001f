// What a refresh hands the server, on each runtime: the answer body prepared
// by the updater (its fetch time a slot the server stamps), in bytes of its
// own, the record's text within it at the offsets given.
import { expect } from 'chai';
import { recordBytes, stampFetchedAt } from '../shared/answer-body.js';
import { createUpdaterPool, type UpdaterPool } from '../workers/pool.js';
import { record, refreshTask, startTestUpstream, type TestUpstream } from './support/upstream.js';

for (const runtime of ['thread', 'process'] as const) {
  describe(`a refresh's result on ${runtime}s`, () => {
    let upstream: TestUpstream;
    let pool: UpdaterPool;

    before(async () => {
      upstream = await startTestUpstream();
      pool = createUpdaterPool({ runtime, minWorkers: 1, maxWorkers: 1, maxQueue: 10, taskTimeoutMs: 10_000, tasksPerWorker: 4, nice: 0 });
    });
    after(async () => {
      await pool?.close();
      await upstream?.close();
    });

    const refresh = (id: string) => pool.run(refreshTask(upstream, id));

    it('is the answer body in bytes of its own, the record within it, the fetch time stamped in place', async () => {
      // Non-ASCII text: offsets are bytes, not characters.
      const data = record('b1', { title: 'Grüße — 🚀 entry', body: 'x'.repeat(5000) });
      upstream.set('b1', { record: data });
      // Several at once: a child's results arrive in one read of its pipe.
      const results = await Promise.all(['b1', 'b1', 'b1'].map(refresh));
      for (const result of results) {
        expect(result.kind).to.equal('ok');
        if (result.kind !== 'ok') return;
        // Counted by the memory tier by its length: it holds no other bytes.
        expect(result.body.byteLength).to.equal(result.body.buffer.byteLength);
        expect(JSON.parse(recordBytes(result).toString())).to.deep.equal(data);
        const fetchedAt = Date.UTC(2031, 4, 6, 7, 8, 9, 10);
        const body = stampFetchedAt(result.body, fetchedAt);
        expect(JSON.parse(body.toString())).to.deep.equal({ id: 'b1', data, fetchedAt: '2031-05-06T07:08:09.010Z' });
      }
    });
  });
}
