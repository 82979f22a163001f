// Stores what a refresh brought back — the record, a 304's freshness, the
// upstream's 404, the failure with its backoff — in SQL (under the lease, so
// a lost lease stores nothing) and in the memory tier, publishes the page,
// and tells the content team what they need to know. The refresher runs the
// refresh; this is the half after the pool answered.
import type { Logger } from 'pino';
import * as leases from '../../db/entry-leases.js';
import type { Db } from '../../db/knex.js';
import { answerBody, recordBytes, stampFetchedAt } from '../../shared/answer-body.js';
import { backoffMs } from '../../shared/backoff.js';
import type { FailureCode } from '../../shared/failures.js';
import { maskUrl } from '../../shared/mask-url.js';
import { upstreamUrl, type UpstreamFreshness } from '../../shared/upstream.js';
import type { RefreshResult } from '../../workers/protocol.js';
import type { Notifier } from '../notices/notifier.js';
import type { PagePublisher } from '../publishing/page-publisher.js';
import type { EntryView, MemoryTier } from './memory-tier.js';
import type { RefreshOutcome } from './refresher.js';

export interface RefreshStoreDeps {
  db: Db;
  memory: MemoryTier;
  pages: PagePublisher;
  notifier: Notifier;
  logger: Logger;
  /** The URL template the updater fetches (named in the "valid again" notice). */
  upstreamUrl: string;
  backoffMaxMs: number;
  /** Told when a record or a 404 was stored, for the other processes of a cluster. */
  onStored?: (id: string) => void;
  /** An operator asked for a refresh while this one held the lease. */
  followUp: (id: string) => void;
}

export function createRefreshStore(deps: RefreshStoreDeps): (lease: leases.Lease, result: RefreshResult, at: number) => Promise<RefreshOutcome> {
  const { db, memory, pages, logger } = deps;

  function followRequest(id: string, stored: leases.Stored): void {
    if (stored.stored && stored.refreshRequested) deps.followUp(id);
  }

  /** A record the content team was told was invalid is valid again: they are told that too. */
  async function resolved(lease: leases.Lease, at: number): Promise<void> {
    if (lease.invalidError === null) return;
    await deps.notifier.resolved({
      id: lease.id,
      url: maskUrl(upstreamUrl(deps.upstreamUrl, lease.id)),
      problems: lease.invalidError,
      resolvedAt: at,
    });
  }

  return async function store(lease: leases.Lease, result: RefreshResult, at: number): Promise<RefreshOutcome> {
    const { id } = lease;
    if (result.kind === 'ok') {
      // Prepared by the updater: only its fetch time is written here, in place.
      const body = stampFetchedAt(result.body, at);
      const record = recordBytes(result);
      const view = storedView(id, at, {
        state: 'ok',
        body,
        etag: `W/"${result.hash}"`,
        related: result.related,
        ...result.freshness,
      });
      if (result.freshness.noStore) {
        // Answered to the readers of this refresh, kept nowhere.
        const stored = await leases.storeNothing(db, lease, at);
        if (stored.stored) {
          memory.delete(id);
          deps.onStored?.(id);
          void pages.publish(id, null, null, at);
        }
        followRequest(id, stored);
        return { kind: 'done', result, view, nextRefreshAt: 0 };
      }
      const stored = await leases.storeRecord(db, lease, at, { ...result, record });
      if (stored.stored) {
        memory.set(view);
        deps.onStored?.(id);
        void pages.publish(id, record, result.hash, at);
        await resolved(lease, at);
      } else {
        logger.warn({ id }, 'refresh result not stored: its lease was lost');
      }
      followRequest(id, stored);
      logger.debug({ id, bytes: result.bytes }, 'entry refreshed');
      return { kind: 'done', result, view, nextRefreshAt: 0 };
    }
    if (result.kind === 'not-modified') {
      // Nothing downloaded, parsed, checked or hashed: the record stands, fresh
      // again. Its page is written only where this node lacks it or holds
      // one of another version (another node refreshed the record meanwhile).
      const stored = await leases.storeNotModified(db, lease, at, result);
      const row = stored.row;
      const view =
        row?.record && row.hash
          ? storedView(id, at, {
              state: 'ok',
              body: answerBody(id, row.record, at),
              etag: `W/"${row.hash}"`,
              related: row.related,
              // As stored: what the 304 said, or what the record had when it said nothing.
              ttlMs: row.ttlMs,
              staleWhileRevalidateMs: row.staleWhileRevalidateMs,
              staleIfErrorMs: row.staleIfErrorMs,
            })
          : undefined;
      if (view) {
        memory.set(view);
        deps.onStored?.(id);
        void pages.publish(id, row?.record ?? null, row?.hash ?? null, at, 'revalidated');
        await resolved(lease, at);
      } else {
        logger.warn({ id }, 'not-modified result not stored: its lease was lost');
      }
      followRequest(id, stored);
      return view ? { kind: 'done', result, view, nextRefreshAt: 0 } : { kind: 'elsewhere' };
    }
    if (result.kind === 'not-found') {
      const view = storedView(id, at, { state: 'not-found', body: undefined, etag: undefined, related: [] });
      const stored = await leases.storeNotFound(db, lease, at);
      if (stored.stored) {
        memory.set(view);
        deps.onStored?.(id);
        void pages.publish(id, null, null, at); // its page goes too
      }
      followRequest(id, stored);
      return { kind: 'done', result, view, nextRefreshAt: 0 };
    }
    const code: FailureCode = result.kind === 'invalid' ? 'invalid' : result.code;
    // (narrowed: ok and not-modified returned above)
    const message = result.kind === 'invalid' ? `invalid: ${result.problems.join('; ')}` : result.message;
    // The upstream's Retry-After, if longer, is honoured (up to the backoff cap).
    const asked = result.kind === 'failed' ? Math.min(result.retryAfterMs ?? 0, deps.backoffMaxMs) : 0;
    const nextRefreshAt = at + Math.max(backoffMs(lease.errorCount + 1, deps.backoffMaxMs), asked);
    const stored = await leases.storeFailure(db, lease, at, { code, message, nextRefreshAt });
    followRequest(id, stored);
    if (!stored.stored) {
      // Another process has the entry now and may have succeeded: its row tells the reader.
      logger.warn({ id, code }, 'refresh failure not stored: its lease was lost');
      return { kind: 'elsewhere' };
    }
    if (result.kind === 'invalid') {
      await deps.notifier.invalidData({
        id,
        problems: result.problems,
        // The notice names the URL without the credentials it may carry.
        url: maskUrl(result.url),
        seenAt: at,
        title: result.title,
      });
    }
    const previous = memory.get(id);
    if (previous) {
      memory.set({ ...previous, errorCode: code, errorCount: lease.errorCount + 1, nextRefreshAt });
    }
    logger.warn({ id, code, failures: lease.errorCount + 1, retryInMs: nextRefreshAt - at, why: message }, 'refresh failed');
    return { kind: 'done', result, view: undefined, nextRefreshAt };
  };
}

/** The memory view of what a refresh just stored: no failure, no backoff. */
function storedView(
  id: string,
  fetchedAt: number,
  record: Pick<EntryView, 'state' | 'body' | 'etag' | 'related'> & Partial<UpstreamFreshness>,
): EntryView {
  return {
    id,
    fetchedAt,
    state: record.state,
    body: record.body,
    etag: record.etag,
    related: record.related,
    ttlMs: record.ttlMs ?? null,
    staleWhileRevalidateMs: record.staleWhileRevalidateMs ?? null,
    staleIfErrorMs: record.staleIfErrorMs ?? null,
    errorCode: null,
    errorCount: 0,
    nextRefreshAt: 0,
  };
}
