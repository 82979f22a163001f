// The memory tier's byte bound counts everything an entry holds: its answer
// body (all the memory the body keeps alive) and its related ids (a record may
// name many), so a few records with long related lists, or bodies cut from
// larger buffers, cannot grow the heap past MEMORY_TIER_MAX_BYTES.
import { expect } from 'chai';
import { createMemoryTier, sizeOf, type EntryView } from '../server/freshness/memory-tier.js';
import { answerBody } from '../shared/answer-body.js';

function view(id: string, related: string[]): EntryView {
  return {
    id,
    state: 'ok',
    fetchedAt: Date.UTC(2030, 0, 1),
    body: answerBody(id, '{}', Date.UTC(2030, 0, 1)),
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

  it('counts what a body holds alive, not its length: a small body cut from a larger buffer counts as the buffer', () => {
    const slab = Buffer.alloc(8192);
    const small = { ...view('slice', []), body: slab.subarray(0, 100) };
    expect(sizeOf(small)).to.be.at.least(8192);
  });

  it('builds bodies from stored rows in memory of their own, counted at their size', () => {
    const body = answerBody('own', JSON.stringify({ title: 'a record of about a hundred bytes, from the SQL copy' }), Date.UTC(2030, 0, 1));
    expect(body.buffer.byteLength).to.equal(body.length);
    expect(sizeOf({ ...view('own', []), body })).to.be.below(body.length + 512);
  });

  it('refuses a row read before the entry was dropped: another node stored it while the read was under way', () => {
    const memory = createMemoryTier(100_000);
    const mark = memory.mark();
    // The read is under way; another node's store is heard.
    memory.delete('raced');
    memory.offer(view('raced', []), mark);
    expect(memory.get('raced')).to.equal(undefined);
    // A read begun after that keeps what it read (at its second read); one begun before everything was forgotten does not.
    memory.offer(view('raced', []), memory.mark());
    memory.offer(view('raced', []), memory.mark());
    expect(memory.get('raced')?.id).to.equal('raced');
    memory.offer(view('other', []), memory.mark());
    const before = memory.mark();
    memory.clear();
    memory.offer(view('other', []), before);
    expect(memory.get('other')).to.equal(undefined);
  });

  it('keeps a row read from the copy at its second read, not its first: reads spread over a large copy do not churn it', () => {
    const memory = createMemoryTier(100_000);
    memory.offer(view('once', []), memory.mark());
    expect(memory.get('once')).to.equal(undefined);
    memory.offer(view('once', []), memory.mark());
    expect(memory.get('once')?.id).to.equal('once');
    // A refresh's own result is kept at once.
    memory.set(view('fetched', []));
    expect(memory.get('fetched')?.id).to.equal('fetched');
  });

  it('keeps small entries by the hundred under the same bound', () => {
    const memory = createMemoryTier(100_000);
    for (let i = 0; i < 200; i++) memory.set(view(`e${i}`, []));
    expect(memory.size).to.equal(200);
  });
});
