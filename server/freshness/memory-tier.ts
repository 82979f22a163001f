// The in-process tier of hot entries in front of the SQL copy: bounded by bytes
// (lru-cache), each holding its answer body and ETag prepared when stored, so a
// hit costs a Map lookup and a timestamp compare — no SQL, no JSON work.
import { LRUCache } from 'lru-cache';
import type { EntryRow } from '../../db/entries.js';
import { answerBody } from '../../shared/answer-body.js';
import type { FailureCode } from '../../shared/failures.js';

export interface EntryView {
  id: string;
  state: 'ok' | 'not-found';
  fetchedAt: number;
  /** `{id, data, fetchedAt}` as JSON, for state 'ok'. */
  body: Buffer | undefined;
  etag: string | undefined;
  related: readonly string[];
  /** The last refresh failure (kept beside a good record: stale-if-error). */
  errorCode: FailureCode | null;
  errorCount: number;
  nextRefreshAt: number;
  /** The upstream's own freshness of the record (null: the settings decide). */
  ttlMs: number | null;
  staleWhileRevalidateMs: number | null;
  staleIfErrorMs: number | null;
}

export interface MemoryTier {
  get(id: string): EntryView | undefined;
  set(view: EntryView): void;
  /** Taken before a read of the copy: what offer() is given with the row read. */
  mark(): number;
  /**
   * A row read from the copy: kept unless the tier already holds a newer
   * fetch (a read raced a refresh), or the entry was dropped after `mark`
   * (another process stored it while the read was under way: the row read may
   * be the older one) — and only at its second read in a while: reads spread
   * over a copy far larger than the tier would churn it (and the heap) for
   * nothing. A refresh's own result is always kept (set).
   */
  offer(view: EntryView, mark: number): void;
  /** Another process stored a newer copy: the next read goes to SQL. */
  delete(id: string): void;
  clear(): void;
  readonly size: number;
}

// MEMORY_TIER_MAX_BYTES=0: a tier that holds nothing.
const nothing = (): undefined => undefined;

// Bookkeeping bytes per entry besides the body (object, strings, LRU node),
// and per related id besides its characters (array slot, string header).
const OVERHEAD_BYTES = 256;
const RELATED_OVERHEAD_BYTES = 24;

/**
 * What an entry takes in memory, for the byte bound: its body — the whole
 * memory it holds alive, not its length, should it be a view into a larger
 * buffer — and its related ids.
 */
export function sizeOf(view: EntryView): number {
  let bytes = OVERHEAD_BYTES + (view.body?.buffer.byteLength ?? 0);
  for (const id of view.related) bytes += RELATED_OVERHEAD_BYTES + 2 * id.length;
  return bytes;
}

// Drops remembered (by the count they were made at), for reads under way: past
// this many, the oldest are forgotten and every read begun before them refused.
const DROPS_KEPT = 10_000;

export function createMemoryTier(maxBytes: number): MemoryTier {
  if (maxBytes === 0) {
    return { get: nothing, set: nothing, mark: () => 0, offer: nothing, delete: nothing, clear: nothing, size: 0 };
  }
  const lru = new LRUCache<string, EntryView>({
    maxSize: maxBytes,
    sizeCalculation: sizeOf,
  });
  // Ids read once from the copy and not kept (yet): ~100 bytes each, at most 64k.
  const seenOnce = new LRUCache<string, true>({ max: Math.max(4096, Math.min(65_536, Math.floor(maxBytes / 1024))) });
  let count = 0;
  let forgottenUpTo = 0;
  const dropped = new LRUCache<string, number>({
    max: DROPS_KEPT,
    dispose: (at, _id, reason) => {
      if (reason === 'evict') forgottenUpTo = Math.max(forgottenUpTo, at);
    },
  });
  /** Was `id` dropped since `mark`, as far as the tier can tell? */
  const droppedSince = (id: string, mark: number) => mark < forgottenUpTo || (dropped.peek(id) ?? 0) > mark;
  return {
    get: (id) => lru.get(id),
    set: (view) => void lru.set(view.id, view),
    mark: () => count,
    offer(view, mark) {
      if (droppedSince(view.id, mark)) return;
      const held = lru.peek(view.id);
      if (held) {
        if (held.fetchedAt <= view.fetchedAt) lru.set(view.id, view);
        return;
      }
      if (!seenOnce.has(view.id)) {
        seenOnce.set(view.id, true);
        return;
      }
      seenOnce.delete(view.id);
      lru.set(view.id, view);
    },
    delete(id) {
      dropped.set(id, ++count);
      lru.delete(id);
    },
    clear() {
      // Every read under way read before this.
      forgottenUpTo = ++count;
      dropped.clear();
      seenOnce.clear();
      lru.clear();
    },
    get size() {
      return lru.size;
    },
  };
}

/** The view of a stored row, or undefined when there is nothing to serve or remember. */
export function viewOfRow(row: EntryRow): EntryView | undefined {
  if (row.state === 'none' || row.fetchedAt === null) return undefined;
  const ok = row.state === 'ok' && row.record !== null && row.hash !== null;
  return {
    id: row.id,
    state: ok ? 'ok' : 'not-found',
    fetchedAt: row.fetchedAt,
    body: ok ? answerBody(row.id, row.record as string, row.fetchedAt) : undefined,
    etag: ok ? `W/"${row.hash}"` : undefined,
    related: row.related,
    errorCode: row.errorCode,
    errorCount: row.errorCount,
    nextRefreshAt: row.nextRefreshAt,
    ttlMs: row.ttlMs,
    staleWhileRevalidateMs: row.staleWhileRevalidateMs,
    staleIfErrorMs: row.staleIfErrorMs,
  };
}
