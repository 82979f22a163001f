// Every SQL statement on the outbox: enqueue (one INSERT, deduplicated by a
// cool-down upsert in the same transaction), claim a batch in one UPDATE with
// an expiry, and mark each message sent, retried or dead.
import type { Db } from './knex.js';
import { estimateRows, inBatches, PRUNE_BATCH } from './bulk.js';
import { isPostgres } from './knex.js';

export type OutboxState = 'pending' | 'sending' | 'sent' | 'dead';

export interface NewMessage {
  kind: string;
  recipients: readonly string[];
  subject: string;
  text: string;
  html: string;
  /** One message per key within the cool-down. */
  dedupeKey: string;
  messageId: string;
}

export interface OutboxRow extends NewMessage {
  id: number;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: number;
  claimOwner: string | null;
  claimUntil: number;
  lastError: string | null;
  createdAt: number;
  sentAt: number | null;
}

interface SqlRow {
  id: number;
  kind: string;
  recipients: string;
  subject: string;
  text_body: string;
  html_body: string;
  dedupe_key: string;
  state: OutboxState;
  attempts: number;
  next_attempt_at: number | string;
  claim_owner: string | null;
  claim_until: number | string;
  message_id: string;
  last_error: string | null;
  created_at: number | string;
  sent_at: number | string | null;
}

function fromSql(r: SqlRow): OutboxRow {
  return {
    id: Number(r.id),
    kind: r.kind,
    recipients: JSON.parse(r.recipients) as string[],
    subject: r.subject,
    text: r.text_body,
    html: r.html_body,
    dedupeKey: r.dedupe_key,
    messageId: r.message_id,
    state: r.state,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    claimOwner: r.claim_owner,
    claimUntil: Number(r.claim_until),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    sentAt: r.sent_at === null ? null : Number(r.sent_at),
  };
}

/**
 * Put a message in the outbox unless one with the same key was put there within
 * the cool-down. The cool-down is claimed by one conditional upsert, so many
 * concurrent callers yield exactly one message. Returns whether it was queued.
 */
export async function enqueue(db: Db, message: NewMessage, now: number, cooldownMs: number): Promise<boolean> {
  return db.transaction(async (trx) => {
    const won = (await trx('mail_cooldowns')
      .insert({ key: message.dedupeKey, last_at: now })
      .onConflict('key')
      .merge({ last_at: now })
      .where('mail_cooldowns.last_at', '<=', now - cooldownMs)
      .returning('key')) as unknown[];
    if (won.length === 0) return false;
    await trx('outbox').insert({
      kind: message.kind,
      recipients: JSON.stringify(message.recipients),
      subject: message.subject,
      text_body: message.text,
      html_body: message.html,
      dedupe_key: message.dedupeKey,
      message_id: message.messageId,
      state: 'pending',
      next_attempt_at: now,
      created_at: now,
    });
    return true;
  });
}

/**
 * Claim up to `limit` due messages in one UPDATE: pending ones whose time has
 * come, and ones whose sender's claim expired (it died). On Postgres the
 * candidates are locked with SKIP LOCKED in a materialized CTE; on SQLite the
 * statement takes the write lock from its start (busy timeout), so two
 * claimers never share a row.
 */
export async function claimBatch(
  db: Db,
  claim: { owner: string; now: number; claimMs: number; limit: number },
): Promise<OutboxRow[]> {
  const { owner, now } = claim;
  const due = db('outbox')
    .select('id')
    .where((q) => q.where('state', 'pending').andWhere('next_attempt_at', '<=', now))
    .orWhere((q) => q.where('state', 'sending').andWhere('claim_until', '<', now))
    .orderBy('id')
    .limit(claim.limit);
  const update = { state: 'sending', claim_owner: owner, claim_until: now + claim.claimMs, attempts: db.raw('attempts + 1') };
  // On Postgres the claimed set is a MATERIALIZED CTE: evaluated once, so no
  // plan can run the locking subquery twice and claim rows it did not lock.
  const target = isPostgres(db)
    ? db.withMaterialized('due', due.forUpdate().skipLocked()).from('outbox').whereIn('id', db.select('id').from('due'))
    : db('outbox').whereIn('id', due);
  const rows = (await target.update(update, '*')) as SqlRow[];
  return rows.map(fromSql).toSorted((a, b) => a.id - b.id);
}

function claimed(db: Db, id: number, owner: string) {
  return db('outbox').where({ id, claim_owner: owner, state: 'sending' });
}

/** Extend a claim just before sending; false if it was lost (expired and taken). */
export async function renewClaim(db: Db, id: number, owner: string, now: number, claimMs: number): Promise<boolean> {
  return (await claimed(db, id, owner).update({ claim_until: now + claimMs })) > 0;
}

/** Record a delivery; false if the claim was lost (another mailer has the row). */
export async function markSent(db: Db, id: number, owner: string, now: number): Promise<boolean> {
  return (await claimed(db, id, owner).update({ state: 'sent', sent_at: now, claim_owner: null, claim_until: 0, last_error: null })) > 0;
}

export async function markRetry(
  db: Db,
  id: number,
  owner: string,
  error: string,
  nextAttemptAt: number,
): Promise<void> {
  await claimed(db, id, owner).update({
    state: 'pending',
    next_attempt_at: nextAttemptAt,
    claim_owner: null,
    claim_until: 0,
    last_error: error.slice(0, 2000),
  });
}

export async function markDead(db: Db, id: number, owner: string, error: string): Promise<void> {
  await claimed(db, id, owner).update({ state: 'dead', claim_owner: null, claim_until: 0, last_error: error.slice(0, 2000) });
}

/** Give back claimed messages that were not tried (stopping, or SMTP unreachable). */
export async function releaseUntried(
  db: Db,
  ids: readonly number[],
  owner: string,
  nextAttemptAt: number,
  why: string,
): Promise<void> {
  if (ids.length === 0) return;
  await db('outbox')
    .whereIn('id', ids)
    .andWhere({ claim_owner: owner, state: 'sending' })
    .update({
      state: 'pending',
      attempts: db.raw('attempts - 1'),
      next_attempt_at: nextAttemptAt,
      claim_owner: null,
      claim_until: 0,
      last_error: why.slice(0, 2000),
    });
}

export async function countDue(db: Db, now: number): Promise<number> {
  const row = (await db('outbox')
    .where((q) => q.where('state', 'pending').andWhere('next_attempt_at', '<=', now))
    .orWhere((q) => q.where('state', 'sending').andWhere('claim_until', '<', now))
    .count({ n: '*' })
    .first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

export interface OutboxStats {
  /** pending, sending and dead: counted exactly; sent: estimated (see below). */
  counts: Record<OutboxState, number>;
  /** Age in seconds of the oldest message not yet sent (pending or sending), or null. */
  oldestUnsentSeconds: number | null;
}

/**
 * Messages by state. Those still to send and the dead ones are counted
 * exactly, through the (state, …) index: a backlog, bounded by retention.
 * Sent messages are the bulk (kept OUTBOX_RETENTION_DAYS): their number is the
 * table's estimated size (estimates.ts) less the others, never a count.
 */
export async function outboxStats(db: Db, now: number): Promise<OutboxStats> {
  const [rows, total] = await Promise.all([
    db('outbox').select('state').count({ n: '*' }).min({ oldest: 'created_at' }).whereIn('state', ['pending', 'sending', 'dead']).groupBy('state') as Promise<
      Array<{ state: OutboxState; n: number | string; oldest: number | string | null }>
    >,
    estimateRows(db, 'outbox'),
  ]);
  const counts: Record<OutboxState, number> = { pending: 0, sending: 0, sent: 0, dead: 0 };
  let oldest: number | null = null;
  for (const r of rows) {
    counts[r.state] = Number(r.n);
    if ((r.state === 'pending' || r.state === 'sending') && r.oldest !== null) {
      oldest = oldest === null ? Number(r.oldest) : Math.min(oldest, Number(r.oldest));
    }
  }
  counts.sent = Math.max(0, total - counts.pending - counts.sending - counts.dead);
  return { counts, oldestUnsentSeconds: oldest === null ? null : Math.max(0, Math.floor((now - oldest) / 1000)) };
}

/** What an operator's retry or drop of a dead message found. */
export type DeadLetterChange = 'done' | 'not-dead' | 'missing';

/**
 * A dead message back in the queue, due now, its attempts counted afresh; only
 * a dead one (one statement), so a retry asked twice sends it once.
 */
export async function requeueDead(db: Db, id: number, now: number): Promise<DeadLetterChange> {
  const changed = await db('outbox').where({ id, state: 'dead' }).update({ state: 'pending', attempts: 0, next_attempt_at: now, claim_owner: null, claim_until: 0 });
  return changed > 0 ? 'done' : whyNot(db, id);
}

/** A dead message deleted; only a dead one. */
export async function deleteDead(db: Db, id: number): Promise<DeadLetterChange> {
  const deleted = await db('outbox').where({ id, state: 'dead' }).delete();
  return deleted > 0 ? 'done' : whyNot(db, id);
}

async function whyNot(db: Db, id: number): Promise<DeadLetterChange> {
  return (await db('outbox').where({ id }).first('id')) ? 'not-dead' : 'missing';
}

/** Messages for an operator's view (and tests): newest first. */
export async function listMessages(db: Db, limit = 50, state?: OutboxState): Promise<OutboxRow[]> {
  const q = db('outbox').orderBy('id', 'desc').limit(limit);
  if (state) q.where({ state });
  return ((await q) as SqlRow[]).map(fromSql);
}

/**
 * Retention: sent and dead messages older than `before`, and cool-downs
 * older than `cooldownsBefore` (never within their own window), in batches of
 * `batch` rows, each its own statement (a short transaction) found through an
 * index. Pending and sending rows are never pruned. Returns how many rows went.
 */
export async function pruneOutbox(
  db: Db,
  before: number,
  cooldownsBefore: number,
  batch = PRUNE_BATCH,
): Promise<{ messages: number; cooldowns: number }> {
  const messages = await inBatches(batch, (limit) =>
    db('outbox')
      .whereIn(
        'id',
        db('outbox')
          .select('id')
          .where((q) => q.where('state', 'sent').andWhere('sent_at', '<', before))
          .orWhere((q) => q.where('state', 'dead').andWhere((q2) => q2.where('sent_at', '<', before).orWhere((q3) => q3.whereNull('sent_at').andWhere('created_at', '<', before))))
          .limit(limit),
      )
      .delete(),
  );
  const cooldowns = await inBatches(batch, (limit) =>
    db('mail_cooldowns').whereIn('key', db('mail_cooldowns').select('key').where('last_at', '<', cooldownsBefore).limit(limit)).delete(),
  );
  return { messages, cooldowns };
}
