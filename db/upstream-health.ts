// The statements of the shared circuit breaker (migration 010): each is one
// conditional statement, so of the processes racing for a transition (open,
// claim the probe, close) exactly one makes it, and that one reports it.
import { rawRows, type Db } from './knex.js';

export interface UpstreamHealth {
  state: 'closed' | 'open';
  /** Open: no refresh is sent before this time (database time, ms); then one probe. */
  openUntil: number;
  coolOffMs: number;
  /** When this episode began (it stays through failed probes). */
  openedAt: number;
  openedBy: string | null;
  reason: string | null;
  probeOwner: string | null;
  probeUntil: number;
}

interface HealthRow {
  state: string;
  open_until: number | string;
  cool_off_ms: number | string;
  opened_at: number | string;
  opened_by: string | null;
  reason: string | null;
  probe_owner: string | null;
  probe_until: number | string;
}

const COLUMNS = 'state, open_until, cool_off_ms, opened_at, opened_by, reason, probe_owner, probe_until';

// Postgres answers bigint columns as strings.
function healthOf(row: HealthRow): UpstreamHealth {
  return {
    state: row.state === 'open' ? 'open' : 'closed',
    openUntil: Number(row.open_until),
    coolOffMs: Number(row.cool_off_ms),
    openedAt: Number(row.opened_at),
    openedBy: row.opened_by,
    reason: row.reason,
    probeOwner: row.probe_owner,
    probeUntil: Number(row.probe_until),
  };
}

/** Text Postgres takes (no NUL) and bounded: an error message may quote the upstream. */
function reasonText(reason: string): string {
  return reason.replaceAll('\0', '').slice(0, 500);
}

/** The origin's row, made (closed) if there is none yet. */
export async function readHealth(db: Db, origin: string): Promise<UpstreamHealth> {
  const rows = rawRows<HealthRow>(db, await db.raw(`select ${COLUMNS} from upstream_health where origin = ?`, [origin]));
  if (rows[0]) return healthOf(rows[0]);
  await db.raw('insert into upstream_health (origin) values (?) on conflict (origin) do nothing', [origin]);
  return { state: 'closed', openUntil: 0, coolOffMs: 0, openedAt: 0, openedBy: null, reason: null, probeOwner: null, probeUntil: 0 };
}

/**
 * Opens the breaker until `until`, if it is closed: true when this call opened
 * it. With `extend` (an upstream's Retry-After), an open one is held longer
 * when that ends later.
 */
export async function openBreaker(
  db: Db,
  o: { origin: string; owner: string; now: number; until: number; coolOffMs: number; reason: string; extend: boolean },
): Promise<boolean> {
  const reason = reasonText(o.reason);
  const opened = rawRows<{ origin: string }>(
    db,
    await db.raw(
      "update upstream_health set state = 'open', open_until = ?, cool_off_ms = ?, opened_at = ?, opened_by = ?, reason = ?, probe_owner = null, probe_until = 0, changed_at = ? " +
        "where origin = ? and state = 'closed' returning origin",
      [o.until, o.coolOffMs, o.now, o.owner, reason, o.now, o.origin],
    ),
  );
  if (opened.length > 0) return true;
  if (!o.extend) return false;
  await db.raw("update upstream_health set open_until = ?, reason = ?, changed_at = ? where origin = ? and state = 'open' and open_until < ? and probe_owner is null", [
    o.until,
    reason,
    o.now,
    o.origin,
    o.until,
  ]);
  return false;
}

/** Claims the probe of an open breaker whose cool-off has ended (and whose last probe, if any, has run out): its cool-off, or undefined. */
export async function claimProbe(db: Db, o: { origin: string; owner: string; now: number; probeUntil: number }): Promise<number | undefined> {
  const rows = rawRows<{ cool_off_ms: number | string }>(
    db,
    await db.raw(
      "update upstream_health set probe_owner = ?, probe_until = ? where origin = ? and state = 'open' and open_until <= ? and (probe_owner is null or probe_until <= ?) returning cool_off_ms",
      [o.owner, o.probeUntil, o.origin, o.now, o.now],
    ),
  );
  return rows[0] === undefined ? undefined : Number(rows[0].cool_off_ms);
}

/** The probe succeeded: closed, if this owner still held the probe (true then). */
export async function closeBreaker(db: Db, o: { origin: string; owner: string; now: number }): Promise<boolean> {
  const rows = rawRows<{ origin: string }>(
    db,
    await db.raw(
      "update upstream_health set state = 'closed', open_until = 0, probe_owner = null, probe_until = 0, changed_at = ? where origin = ? and state = 'open' and probe_owner = ? returning origin",
      [o.now, o.origin, o.owner],
    ),
  );
  return rows.length > 0;
}

/** The probe failed: open again for `coolOffMs` (true when this owner still held the probe). */
export async function reopenBreaker(db: Db, o: { origin: string; owner: string; now: number; coolOffMs: number; reason: string }): Promise<boolean> {
  const rows = rawRows<{ origin: string }>(
    db,
    await db.raw(
      "update upstream_health set open_until = ?, cool_off_ms = ?, reason = ?, probe_owner = null, probe_until = 0, changed_at = ? where origin = ? and state = 'open' and probe_owner = ? returning origin",
      [o.now + o.coolOffMs, o.coolOffMs, reasonText(o.reason), o.now, o.origin, o.owner],
    ),
  );
  return rows.length > 0;
}

/**
 * A claimed probe that was not sent (the entry needed no refresh after all):
 * another may be claimed at once. Only that claim (its owner and end): a later
 * claim of the same process stands.
 */
export async function releaseProbe(db: Db, o: { origin: string; owner: string; probeUntil: number }): Promise<void> {
  await db.raw('update upstream_health set probe_owner = null, probe_until = 0 where origin = ? and probe_owner = ? and probe_until = ?', [o.origin, o.owner, o.probeUntil]);
}
