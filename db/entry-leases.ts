// The refresh lease of an entry and the stores made under it: claimed in one
// conditional statement when a refresh is due (the freshness policy's rule, in
// SQL), fenced by owner and generation so that a late result of a lost lease
// stores nothing. The miss path runs these, so they are written out, not built.
import { storedFailureCode, type FailureCode } from '../shared/failures.js';
import { shardKeyOf } from '../shared/publish-layout.js';
import type { FreshnessPolicy } from '../shared/freshness-policy.js';
import type { UpstreamFreshness, Validators } from '../shared/upstream.js';
import { orNull, type EntryRow, type EntryState, type SqlRow } from './entries.js';
import { rawRows, type Db, type Knex } from './knex.js';
import { replaceTags } from './entry-tags.js';
import { DEFAULT_SOURCE } from '../shared/sources.js';
import { tagsColumn } from '../shared/tags.js';

export interface Lease {
  /** The source the entry comes from (shared/sources.ts), and its id there. */
  source: string;
  id: string;
  owner: string;
  generation: number;
  /** Consecutive failures before this refresh, for the backoff of the next one. */
  errorCount: number;
  /** The failure standing before this refresh. */
  errorCode: FailureCode | null;
  error: string | null;
  /** The problems the content team was last told of, until a good record (then it is news to them). */
  invalidError: string | null;
  /** The stored record's validators, when there is a record to keep on a 304. */
  validators: Validators | undefined;
  /** The entry's cache tags as stored (the entries.tags column), to tell whether a store changes them. */
  tags: string | null;
}

const LEASE_RETURNS = ['lease_generation', 'error_count', 'error_code', 'error', 'invalid_error', 'state', 'upstream_etag', 'upstream_last_modified', 'tags'];

// The miss path's statements are written out, not built: knex's query builder
// costs ~0.1-0.2 ms a statement. The same text runs on SQLite (3.35+) and Postgres.
const CREATE_LEASED =
  'insert into entries (source, id, shard_key, lease_owner, lease_until, lease_generation, updated_at) values (?, ?, ?, ?, ?, 1, ?) ' +
  `on conflict (source, id) do nothing returning ${LEASE_RETURNS.join(', ')}`;

interface LeaseRow {
  lease_generation: number;
  error_count: number;
  error_code: string | null;
  error: string | null;
  invalid_error: string | null;
  state: EntryState;
  upstream_etag: string | null;
  upstream_last_modified: string | null;
  tags: string | null;
}

function leaseOf(source: string, id: string, owner: string, row: LeaseRow): Lease {
  // A record whose tags are unknown (stored before they were read) is fetched whole once, for them.
  const conditional = row.state === 'ok' && row.tags !== null && (row.upstream_etag !== null || row.upstream_last_modified !== null);
  return {
    source,
    id,
    owner,
    generation: Number(row.lease_generation),
    errorCount: Number(row.error_count),
    errorCode: storedFailureCode(row.error_code),
    error: row.error,
    invalidError: row.invalid_error,
    validators: conditional ? { etag: row.upstream_etag, lastModified: row.upstream_last_modified } : undefined,
    tags: row.tags,
  };
}

// Another process's lease has lapsed (or there is none): the entry may be claimed.
const CLAIM =
  'update entries set lease_owner = ?, lease_until = ?, lease_generation = lease_generation + 1, ' +
  // This refresh answers any operator's request made before it.
  'refresh_requested = false, updated_at = ? where source = ? and id = ? and lease_until < ?';

// The refresh is due: out of backoff, and as old as the policy's rule says
// (shared/freshness-policy.ts refreshDueAtAgeMs): its own TTL or the setting's
// for its state, times the refresh-ahead fraction for a record. Age is
// compared with age, as in TypeScript, so both round the same way. Typed, as
// Postgres cannot infer a parameter's type here.
const DUE =
  ' and next_refresh_at <= ? and (fetched_at is null or cast(? as bigint) - fetched_at >= ' +
  "coalesce(ttl_ms, case when state = 'not-found' then cast(? as bigint) else cast(? as bigint) end) * " +
  "case when state = 'ok' then cast(? as double precision) else 1 end)";

const RETURNING = ` returning ${LEASE_RETURNS.join(', ')}`;

/**
 * Claim the refresh lease of one entry in one conditional UPDATE: it succeeds
 * only when no other lease is live and (unless forced) a refresh is due by the
 * freshness policy — out of backoff and old enough — so a refresh another
 * process just finished is not repeated. Creates the row first when the entry
 * has never been seen. `ahead`: a refresh ahead of the TTL (ENTRY_REFRESH_AHEAD).
 */
export async function claimLease(
  db: Db,
  claim: {
    /** Default: the source the env vars describe. */
    source?: string;
    id: string;
    owner: string;
    now: number;
    leaseMs: number;
    policy: FreshnessPolicy;
    ahead?: boolean;
    /** An operator's refresh: ignore backoff and freshness. */
    force?: boolean;
    create?: boolean;
  },
): Promise<Lease | undefined> {
  const { id, owner, now, policy } = claim;
  const source = claim.source ?? DEFAULT_SOURCE;
  if (claim.create) {
    // A new entry is created already leased (one statement on the miss path);
    // if it exists after all, the conditional UPDATE below decides.
    const created = rawRows<LeaseRow>(db, await db.raw(CREATE_LEASED, [source, id, shardKeyOf(id), owner, now + claim.leaseMs, now]));
    if (created[0]) return leaseOf(source, id, owner, created[0]);
  }
  const bindings: Knex.RawBinding[] = [owner, now + claim.leaseMs, now, source, id, now];
  let sql = CLAIM;
  if (!claim.force) {
    const fraction = claim.ahead && policy.refreshAhead > 0 ? policy.refreshAhead : 1;
    sql += DUE;
    bindings.push(now, now, policy.notFoundTtlMs, policy.ttlMs, fraction);
  }
  const rows = rawRows<LeaseRow>(db, await db.raw(sql + RETURNING, bindings));
  return rows[0] && leaseOf(source, id, owner, rows[0]);
}

function heldBy(db: Db, lease: Lease) {
  return db('entries').where({ source: lease.source, id: lease.id, lease_owner: lease.owner, lease_generation: lease.generation });
}

const released = { lease_owner: null, lease_until: 0 };

/** Give a lease back unused (the pool was full). */
export async function releaseLease(db: Db, lease: Lease, now: number): Promise<void> {
  await heldBy(db, lease).update({ ...released, updated_at: now });
}

/** What a store statement did: nothing when the lease was lost meanwhile. */
export interface Stored {
  stored: boolean;
  /** An operator asked for a refresh while this lease was held: refresh again. */
  refreshRequested: boolean;
}

/**
 * A store of the held row, with the entry's cache tags when they change
 * (`tags` null: they stand). `write` is given the tags column to set, if it
 * changes. Tags that stay as they were — most stores — cost nothing more;
 * changed ones are written with the row, in one transaction.
 */
async function withTags<T extends Stored>(db: Db, lease: Lease, tags: readonly string[] | null, write: (db: Db, column: string | undefined) => Promise<T>): Promise<T> {
  const column = tags === null ? lease.tags : tagsColumn(tags);
  if (column === lease.tags || column === null) return write(db, undefined);
  return db.transaction(async (trx) => {
    const stored = await write(trx, column);
    if (stored.stored) await replaceTags(trx, lease.source, lease.id, tags ?? []);
    return stored;
  });
}

/** The held row updated, with its cache tags when they change (`tags` undefined: they stand). */
function updateHeld(db: Db, lease: Lease, fields: Record<string, unknown>, tags?: readonly string[]): Promise<Stored> {
  return withTags(db, lease, tags ?? null, (d, column) => updateRow(d, lease, column === undefined ? fields : { ...fields, tags: column }));
}

/** The held row updated, and whether an operator's refresh waits on it, in one statement. */
async function updateRow(db: Db, lease: Lease, fields: Record<string, unknown>): Promise<Stored> {
  // Written out (as CREATE_LEASED); the columns are this file's own names, never input.
  const sql = `update entries set ${Object.keys(fields).join(' = ?, ')} = ? where source = ? and id = ? and lease_owner = ? and lease_generation = ? returning refresh_requested`;
  const bindings = [...Object.values(fields), lease.source, lease.id, lease.owner, lease.generation];
  const rows = rawRows<{ refresh_requested: unknown }>(db, await db.raw(sql, bindings as Knex.RawBinding[]));
  const row = rows[0];
  // SQLite answers 0/1, Postgres a boolean.
  return { stored: row !== undefined, refreshRequested: Boolean(row?.refresh_requested) };
}

/** What the upstream said of a record's freshness, as columns. */
function freshnessColumns(freshness: UpstreamFreshness): Record<string, unknown> {
  return {
    ttl_ms: freshness.ttlMs,
    stale_while_revalidate_ms: freshness.staleWhileRevalidateMs,
    stale_if_error_ms: freshness.staleIfErrorMs,
  };
}

/** The upstream's validators and freshness of a record, as columns. */
function cachingColumns(validators: Validators, freshness: UpstreamFreshness): Record<string, unknown> {
  return { upstream_etag: validators.etag, upstream_last_modified: validators.lastModified, ...freshnessColumns(freshness) };
}

const noCaching = cachingColumns({ etag: null, lastModified: null }, { ttlMs: null, staleWhileRevalidateMs: null, staleIfErrorMs: null, noStore: false });

/** Store a good record; nothing is stored when the lease was lost meanwhile. */
export async function storeRecord(
  db: Db,
  lease: Lease,
  now: number,
  record: { record: string | Buffer; hash: string; related: string[]; title: string | null; validators: Validators; freshness: UpstreamFreshness; tags: readonly string[] },
): Promise<Stored> {
  return updateHeld(db, lease, {
    // The record's UTF-8 bytes, made text by the database: the driver copies
    // bytes, where a string would be encoded again on the main thread.
    record: db.raw('cast(? as text)', [record.record]),
    hash: record.hash,
    related: JSON.stringify(record.related),
    title: record.title === null ? null : plainText(record.title),
    fetched_at: now,
    state: 'ok',
    ...cachingColumns(record.validators, record.freshness),
    ...noError,
    invalid_error: null,
    ...released,
    updated_at: now,
  }, record.tags);
}

/**
 * The upstream answered 304: the stored record is fresh again from `now`,
 * with the freshness the 304 carried, if it carried any (null: the stored
 * freshness stands), and its validators, where it sent new ones. Returns the
 * record and its freshness, to answer from, unless the lease was lost.
 */
export async function storeNotModified(
  db: Db,
  lease: Lease,
  now: number,
  answer: { validators: Validators; freshness: UpstreamFreshness | null; tags: readonly string[] | null },
): Promise<NotModifiedStored> {
  // The tags it sent, if any, replace the stored ones.
  return withTags(db, lease, answer.tags, (d, column) => revalidated(d, lease, now, answer, column));
}

type NotModifiedStored = Stored & { row?: Pick<EntryRow, 'record' | 'hash' | 'related' | 'ttlMs' | 'staleWhileRevalidateMs' | 'staleIfErrorMs'> };

async function revalidated(
  db: Db,
  lease: Lease,
  now: number,
  answer: { validators: Validators; freshness: UpstreamFreshness | null },
  tags: string | undefined,
): Promise<NotModifiedStored> {
  const { validators, freshness } = answer;
  const rows = (await heldBy(db, lease).update(
    {
      fetched_at: now,
      ...(freshness === null ? {} : freshnessColumns(freshness)),
      // A purge (or an operator) asked for another refresh meanwhile: it is fetched whole.
      upstream_etag: db.raw('case when refresh_requested then null else coalesce(?, upstream_etag) end', [validators.etag]),
      upstream_last_modified: db.raw('case when refresh_requested then null else coalesce(?, upstream_last_modified) end', [validators.lastModified]),
      ...(tags === undefined ? {} : { tags }),
      ...noError,
      invalid_error: null,
      ...released,
      updated_at: now,
    },
    ['refresh_requested', 'record', 'hash', 'related', 'ttl_ms', 'stale_while_revalidate_ms', 'stale_if_error_ms'],
  )) as Array<
    { refresh_requested: unknown; record: string | null; hash: string | null; related: string | null } & Pick<
      SqlRow,
      'ttl_ms' | 'stale_while_revalidate_ms' | 'stale_if_error_ms'
    >
  >;
  const row = rows[0];
  if (!row) return { stored: false, refreshRequested: false };
  return {
    stored: true,
    refreshRequested: Boolean(row.refresh_requested),
    row: {
      record: row.record,
      hash: row.hash,
      related: row.related ? (JSON.parse(row.related) as string[]) : [],
      ttlMs: orNull(row.ttl_ms),
      staleWhileRevalidateMs: orNull(row.stale_while_revalidate_ms),
      staleIfErrorMs: orNull(row.stale_if_error_ms),
    },
  };
}

/** The upstream said no-store: keep nothing of the record (it was answered once). */
export async function storeNothing(db: Db, lease: Lease, now: number): Promise<Stored> {
  return updateHeld(db, lease, {
    record: null,
    hash: null,
    related: null,
    title: null,
    fetched_at: null,
    state: 'none',
    ...noCaching,
    ...noError,
    ...released,
    updated_at: now,
  }, []);
}

/** Upstream says the entry does not exist: forget the record, remember the answer. */
export async function storeNotFound(db: Db, lease: Lease, now: number): Promise<Stored> {
  return updateHeld(db, lease, {
    record: null,
    hash: null,
    related: null,
    title: null,
    fetched_at: now,
    state: 'not-found',
    ...noCaching,
    ...noError,
    ...released,
    updated_at: now,
  }, []);
}

/**
 * Text for a plain text column: Postgres refuses NUL in text (SQLite keeps
 * it), so it becomes U+FFFD on both. The record and its related ids are JSON,
 * where NUL is already the escape \u0000, and round-trip as they are.
 */
function plainText(value: string): string {
  return value.replaceAll('\u0000', '\uFFFD');
}

const noError = { error_code: null, error: null, error_at: null, error_count: 0, next_refresh_at: 0 };

/** Keep the last good record; record why the refresh failed and back off. */
export async function storeFailure(
  db: Db,
  lease: Lease,
  now: number,
  failure: { code: FailureCode; message: string; nextRefreshAt: number },
): Promise<Stored> {
  return updateHeld(db, lease, {
    error_code: failure.code,
    error: plainText(failure.message.slice(0, 4000)),
    // What the content team is told of stays until a good record: other failures may come between.
    ...(failure.code === 'invalid' ? { invalid_error: plainText(failure.message.slice(0, 4000)) } : {}),
    error_at: now,
    error_count: lease.errorCount + 1,
    next_refresh_at: failure.nextRefreshAt,
    ...released,
    updated_at: now,
  });
}

/**
 * An operator's refresh could not claim the lease (another process holds it):
 * leave the request on the row for the holder, whose store reads it back. A
 * lease that ended meanwhile would never read it: false then (and when there
 * is no row), and the caller claims the entry itself.
 */
export async function requestRefresh(db: Db, source: string, id: string, now: number): Promise<boolean> {
  const n = await db('entries').where({ source, id }).andWhere('lease_until', '>=', now).update({ refresh_requested: true, updated_at: now });
  return n > 0;
}
