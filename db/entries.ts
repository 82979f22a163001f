// Every SQL statement on the `entries` table: the durable copy of upstream
// records, their refresh errors and backoff, and the refresh lease.
import type { UpstreamFreshness, Validators } from '../workers/protocol.js';
import { rawRows, type Db, type Knex } from './knex.js';

export type EntryState = 'ok' | 'not-found' | 'none';

export interface EntryRow {
  id: string;
  record: string | null;
  hash: string | null;
  related: string[];
  fetchedAt: number | null;
  state: EntryState;
  errorCode: string | null;
  error: string | null;
  errorAt: number | null;
  errorCount: number;
  nextRefreshAt: number;
  leaseOwner: string | null;
  leaseUntil: number;
  leaseGeneration: number;
  /** The upstream's own freshness of this record (null: it said nothing). */
  ttlMs: number | null;
  staleWhileRevalidateMs: number | null;
  staleIfErrorMs: number | null;
}

/** A row as the driver gives it. */
export interface SqlRow {
  id: string;
  record: string | null;
  hash: string | null;
  related: string | null;
  fetched_at: number | string | null;
  state: EntryState;
  error_code: string | null;
  error: string | null;
  error_at: number | string | null;
  error_count: number;
  next_refresh_at: number | string;
  lease_owner: string | null;
  lease_until: number | string;
  lease_generation: number;
  ttl_ms: number | string | null;
  stale_while_revalidate_ms: number | string | null;
  stale_if_error_ms: number | string | null;
}

const orNull = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function fromSql(r: SqlRow): EntryRow {
  return {
    id: r.id,
    record: r.record,
    hash: r.hash,
    related: r.related ? (JSON.parse(r.related) as string[]) : [],
    fetchedAt: r.fetched_at === null ? null : Number(r.fetched_at),
    state: r.state,
    errorCode: r.error_code,
    error: r.error,
    errorAt: r.error_at === null ? null : Number(r.error_at),
    errorCount: Number(r.error_count),
    nextRefreshAt: Number(r.next_refresh_at),
    leaseOwner: r.lease_owner,
    leaseUntil: Number(r.lease_until),
    leaseGeneration: Number(r.lease_generation),
    ttlMs: orNull(r.ttl_ms),
    staleWhileRevalidateMs: orNull(r.stale_while_revalidate_ms),
    staleIfErrorMs: orNull(r.stale_if_error_ms),
  };
}

/** The columns of an EntryRow: a read takes no more (not the title, the validators). */
export const ROW_COLUMNS = [
  'id', 'record', 'hash', 'related', 'fetched_at', 'state', 'error_code', 'error', 'error_at', 'error_count',
  'next_refresh_at', 'lease_owner', 'lease_until', 'lease_generation', 'ttl_ms', 'stale_while_revalidate_ms', 'stale_if_error_ms',
] as const satisfies ReadonlyArray<keyof SqlRow>;

export async function getEntry(db: Db, id: string): Promise<EntryRow | undefined> {
  const row = (await db('entries').select(ROW_COLUMNS).where({ id }).first()) as SqlRow | undefined;
  return row && fromSql(row);
}

export interface Lease {
  id: string;
  owner: string;
  generation: number;
  /** Consecutive failures before this refresh, for the backoff of the next one. */
  errorCount: number;
  /** The failure standing before this refresh (a success after 'invalid' is news to the content team). */
  errorCode: string | null;
  error: string | null;
  /** The stored record's validators, when there is a record to keep on a 304. */
  validators: Validators | undefined;
}

/** How long rows stay fresh when the upstream said nothing (the settings). */
export interface DefaultTtls {
  okMs: number;
  notFoundMs: number;
}

const LEASE_RETURNS = ['lease_generation', 'error_count', 'error_code', 'error', 'state', 'upstream_etag', 'upstream_last_modified'];

// The miss path's statements are written out, not built: knex's query builder
// costs ~0.1-0.2 ms a statement. The same text runs on SQLite (3.35+) and Postgres.
const CREATE_LEASED =
  'insert into entries (id, lease_owner, lease_until, lease_generation, updated_at) values (?, ?, ?, 1, ?) ' +
  `on conflict (id) do nothing returning ${LEASE_RETURNS.join(', ')}`;

interface LeaseRow {
  lease_generation: number;
  error_count: number;
  error_code: string | null;
  error: string | null;
  state: EntryState;
  upstream_etag: string | null;
  upstream_last_modified: string | null;
}

function leaseOf(id: string, owner: string, row: LeaseRow): Lease {
  const conditional = row.state === 'ok' && (row.upstream_etag !== null || row.upstream_last_modified !== null);
  return {
    id,
    owner,
    generation: Number(row.lease_generation),
    errorCount: Number(row.error_count),
    errorCode: row.error_code,
    error: row.error,
    validators: conditional ? { etag: row.upstream_etag, lastModified: row.upstream_last_modified } : undefined,
  };
}

/**
 * Claim the refresh lease of one entry in one conditional UPDATE: it succeeds only
 * when no other lease is live and (unless forced) the entry is out of backoff and
 * still stale, so a refresh another process just finished is not repeated.
 * Creates the row first when the entry has never been seen. `fraction`: the
 * part of its TTL an entry must have lived (1: stale; less: a refresh ahead).
 */
export async function claimLease(
  db: Db,
  claim: {
    id: string;
    owner: string;
    now: number;
    leaseMs: number;
    ttls: DefaultTtls;
    fraction?: number;
    /** An operator's refresh: ignore backoff and freshness. */
    force?: boolean;
    create?: boolean;
  },
): Promise<Lease | undefined> {
  const { id, owner, now } = claim;
  if (claim.create) {
    // A new entry is created already leased (one statement on the miss path);
    // if it exists after all, the conditional UPDATE below decides.
    const created = rawRows<LeaseRow>(db, await db.raw(CREATE_LEASED, [id, owner, now + claim.leaseMs, now]));
    if (created[0]) return leaseOf(id, owner, created[0]);
  }
  const query = db('entries')
    .where({ id })
    .andWhere('lease_until', '<', now)
    .update(
      {
        lease_owner: owner,
        lease_until: now + claim.leaseMs,
        lease_generation: db.raw('lease_generation + 1'),
        // This refresh answers any operator's request made before it.
        refresh_requested: false,
        updated_at: now,
      },
      LEASE_RETURNS,
    );
  if (!claim.force) {
    // Its own TTL, or the setting's for its state; typed, as Postgres cannot infer a parameter's type here.
    query.andWhere('next_refresh_at', '<=', now).andWhere((q) =>
      q
        .whereNull('fetched_at')
        .orWhereRaw(
          'fetched_at <= cast(? as bigint) - coalesce(ttl_ms, case when state = ? then cast(? as bigint) else cast(? as bigint) end) * cast(? as double precision)',
          [now, 'not-found', claim.ttls.notFoundMs, claim.ttls.okMs, claim.fraction ?? 1],
        ),
    );
  }
  const rows = (await query) as LeaseRow[];
  return rows[0] && leaseOf(id, owner, rows[0]);
}

function heldBy(db: Db, lease: Lease) {
  return db('entries').where({ id: lease.id, lease_owner: lease.owner, lease_generation: lease.generation });
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

/** The held row updated, and whether an operator's refresh waits on it, in one statement. */
async function updateHeld(db: Db, lease: Lease, fields: Record<string, unknown>): Promise<Stored> {
  // Written out (as CREATE_LEASED); the columns are this file's own names, never input.
  const sql = `update entries set ${Object.keys(fields).join(' = ?, ')} = ? where id = ? and lease_owner = ? and lease_generation = ? returning refresh_requested`;
  const bindings = [...Object.values(fields), lease.id, lease.owner, lease.generation];
  const rows = rawRows<{ refresh_requested: unknown }>(db, await db.raw(sql, bindings as Knex.RawBinding[]));
  const row = rows[0];
  // SQLite answers 0/1, Postgres a boolean.
  return { stored: row !== undefined, refreshRequested: Boolean(row?.refresh_requested) };
}

/** The upstream's validators and freshness of a record, as columns. */
function cachingColumns(validators: Validators, freshness: UpstreamFreshness): Record<string, unknown> {
  return {
    upstream_etag: validators.etag,
    upstream_last_modified: validators.lastModified,
    ttl_ms: freshness.ttlMs,
    stale_while_revalidate_ms: freshness.staleWhileRevalidateMs,
    stale_if_error_ms: freshness.staleIfErrorMs,
  };
}

const noCaching = cachingColumns({ etag: null, lastModified: null }, { ttlMs: null, staleWhileRevalidateMs: null, staleIfErrorMs: null, noStore: false });

/** Store a good record; nothing is stored when the lease was lost meanwhile. */
export async function storeRecord(
  db: Db,
  lease: Lease,
  now: number,
  record: { record: string | Buffer; hash: string; related: string[]; title: string | null; validators: Validators; freshness: UpstreamFreshness },
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
    ...released,
    updated_at: now,
  });
}

/**
 * The upstream answered 304: the stored record is fresh again from `now`,
 * with the freshness the 304 carried (and its validators, where it sent new
 * ones). Returns the record, to answer from, unless the lease was lost.
 */
export async function storeNotModified(
  db: Db,
  lease: Lease,
  now: number,
  answer: { validators: Validators; freshness: UpstreamFreshness },
): Promise<Stored & { row?: Pick<EntryRow, 'record' | 'hash' | 'related'> }> {
  const { validators, freshness } = answer;
  const rows = (await heldBy(db, lease).update(
    {
      fetched_at: now,
      ...cachingColumns(validators, freshness),
      upstream_etag: db.raw('coalesce(?, upstream_etag)', [validators.etag]),
      upstream_last_modified: db.raw('coalesce(?, upstream_last_modified)', [validators.lastModified]),
      ...noError,
      ...released,
      updated_at: now,
    },
    ['refresh_requested', 'record', 'hash', 'related'],
  )) as Array<{ refresh_requested: unknown; record: string | null; hash: string | null; related: string | null }>;
  const row = rows[0];
  if (!row) return { stored: false, refreshRequested: false };
  return {
    stored: true,
    refreshRequested: Boolean(row.refresh_requested),
    row: { record: row.record, hash: row.hash, related: row.related ? (JSON.parse(row.related) as string[]) : [] },
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
  });
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
  });
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
  failure: { code: string; message: string; nextRefreshAt: number },
): Promise<Stored> {
  return updateHeld(db, lease, {
    error_code: failure.code,
    error: plainText(failure.message.slice(0, 4000)),
    error_at: now,
    error_count: lease.errorCount + 1,
    next_refresh_at: failure.nextRefreshAt,
    ...released,
    updated_at: now,
  });
}

/**
 * An operator's refresh could not claim the lease (another process holds it):
 * leave the request on the row for the holder. False when there is no row.
 */
export async function requestRefresh(db: Db, id: string, now: number): Promise<boolean> {
  const n = await db('entries').where({ id }).update({ refresh_requested: true, updated_at: now });
  return n > 0;
}

/** Every stored record's id and title, for the index of published pages. */
export async function listTitles(db: Db): Promise<Array<{ id: string; title: string | null; fetchedAt: number }>> {
  const rows = (await db('entries').select('id', 'title', 'fetched_at').where({ state: 'ok' }).orderBy('id')) as Array<{
    id: string;
    title: string | null;
    fetched_at: number | string;
  }>;
  return rows.map((r) => ({ id: r.id, title: r.title, fetchedAt: Number(r.fetched_at) }));
}

export async function countRecords(db: Db): Promise<number> {
  const row = (await db('entries').where({ state: 'ok' }).count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

/** Stored records in id order, a page at a time (keyset: ids after `afterId`). */
export async function listRecords(
  db: Db,
  afterId: string,
  limit: number,
): Promise<Array<{ id: string; record: string; fetchedAt: number }>> {
  const rows = (await db('entries')
    .select('id', 'record', 'fetched_at')
    .where({ state: 'ok' })
    .andWhere('id', '>', afterId)
    .orderBy('id')
    .limit(limit)) as Array<{ id: string; record: string; fetched_at: number | string }>;
  return rows.map((r) => ({ id: r.id, record: r.record, fetchedAt: Number(r.fetched_at) }));
}

export interface RecentError {
  id: string;
  code: string;
  error: string;
  failures: number;
  at: number;
  nextRefreshAt: number;
  /** The entry's own TTL from the upstream's headers; null: the setting's. */
  ttlMs: number | null;
}

/** The latest refresh failures still standing (a success clears them). */
export async function listRecentErrors(db: Db, limit: number): Promise<RecentError[]> {
  const rows = (await db('entries')
    .select('id', 'error_code', 'error', 'error_count', 'error_at', 'next_refresh_at', 'ttl_ms')
    .whereNotNull('error_code')
    .orderBy('error_at', 'desc')
    .limit(limit)) as Array<{
    id: string;
    error_code: string;
    error: string | null;
    error_count: number;
    error_at: number | string;
    next_refresh_at: number | string;
    ttl_ms: number | string | null;
  }>;
  return rows.map((r) => ({
    id: r.id,
    code: r.error_code,
    error: r.error ?? '',
    failures: Number(r.error_count),
    at: Number(r.error_at),
    nextRefreshAt: Number(r.next_refresh_at),
    ttlMs: orNull(r.ttl_ms),
  }));
}

/**
 * Retention: rows that hold no record — ids the upstream said it does not
 * have, or never answered for — untouched since `before` and not leased. A
 * read of such an id later is a miss like any other.
 */
export async function pruneRecordless(db: Db, before: number): Promise<number> {
  return db('entries')
    .whereIn('state', ['not-found', 'none'])
    .andWhere('updated_at', '<', before)
    .andWhere('lease_until', '<', before)
    .delete();
}
