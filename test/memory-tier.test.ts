// The memory tier's byte bound counts everything an entry holds: its answer
// body and its related ids (a record may name many), so a few records with
// long related lists cannot grow the heap past MEMORY_TIER_MAX_BYTES.
import { expect } from 'chai';
import { createMemoryTier, type EntryView } from '../server/freshness/memory-tier.js';

function view(id: string, related: string[]): EntryView {
  return {
    id,
    state: 'ok',
    fetchedAt: Date.UTC(2030, 0, 1),
    body: Buffer.from(`{"id":"${id}"}`),
    etag: 'W/"x"',
    related,
    errorCode: null,
    errorCount: 0,
    nextRefreshAt: 0,
    ttlMs: null,
    staleWhileRevalidateMs: null,
    staleIfErrorMs: null,
  };
}

describe('the memory tier', () => {
  it('counts related ids against its byte bound', () => {
    const memory = createMemoryTier(100_000);
    const related = Array.from({ length: 100 }, (_, i) => `related-entry-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < 100; i++) memory.set(view(`e${i}`, related));
    // Each holds 100 ids of 18 characters: about 6 KB, so about 16 fit, not 100.
    expect(memory.size).to.be.within(1, 20);
  });

  it('keeps small entries by the hundred under the same bound', () => {
    const memory = createMemoryTier(100_000);
    for (let i = 0; i < 200; i++) memory.set(view(`e${i}`, []));
    expect(memory.size).to.equal(200);
  });
});
