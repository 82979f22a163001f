// The mailer: a child process of its own (started by workers/mail/launcher.ts with
// execa) that drains the outbox. It reads its settings as JSON on stdin, opens
// its own database connection, claims a batch, sends each message, marks it
// sent / retried with backoff / dead, and exits when nothing is due.
// SIGTERM: finish the message in hand, give the rest of the batch back, exit.
// A mailer whose server died (SIGKILL) is supervised by nobody: it finishes
// the batch in hand, its claims renewed as it goes, and claims no other.
// Stop signals are heard from the first import on, kept until main() takes them.
import { onStopSignals } from '../shared/stop-signals.js';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { backoffMs } from '../shared/backoff.js';
import { startDbClock } from '../db/clock.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { openDatabase } from '../db/knex.js';
import * as outbox from '../db/outbox.js';
import { createMailTransport, isConnectionFailure, isPermanent } from './mail/transport.js';
import type { MailerSettings } from './mail/settings.js';

async function readSettings(): Promise<MailerSettings> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as MailerSettings;
}

async function main(): Promise<void> {
  const settings = await readSettings();
  // Synchronous: the process exits right after its last line.
  const log = pino({ level: settings.logLevel, base: { role: 'mailer' } }, pino.destination({ dest: 1, sync: true }));
  const db = openDatabase(settings.database, settings.pool);
  const transport = createMailTransport(settings);
  const owner = `mailer:${hostname()}:${process.pid}`;
  // Claims are written and compared in the database's time, not this node's.
  const clock = await startDbClock(db);
  let state: 'claiming' | 'sending' | 'stopping' = 'claiming';

  /**
   * Records a delivery. While the database is away it retries until the claim
   * (renewed at `claimedUntil`, by the monotonic clock) would expire; past it
   * another mailer may take the row and send it again, which is logged.
   */
  async function markSent(id: number, claimedUntil: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!(await outbox.markSent(db, id, owner, clock.now()))) {
          log.warn({ id }, 'delivered, but the claim was lost first: another mailer may send it again');
        }
        return;
      } catch (err) {
        const wait = backoffMs(attempt, 5000);
        if (!isDatabaseUnavailable(err) || performance.now() + wait >= claimedUntil) throw err;
        log.warn({ id, why: err instanceof Error ? err.message : String(err) }, 'delivered, but not yet recorded as sent: retrying');
        await sleep(wait);
      }
    }
  }
  onStopSignals((signal) => {
    log.info({ signal }, 'stopping: finishing the message in hand');
    state = 'stopping';
  });

  const counts = { sent: 0, retried: 0, dead: 0, released: 0 };
  try {
    while (state !== 'stopping') {
      // Orphaned, this process has another parent (init, or a subreaper) —
      // already, if its server died while it started. A server of an older
      // build (upgraded in place) does not say who it is: then nothing is known.
      if (typeof settings.serverPid === 'number' && process.ppid !== settings.serverPid) {
        log.warn('the server that started this mailer is gone: no further batch; the next server sends the rest');
        break;
      }
      state = 'claiming';
      const batch = await outbox.claimBatch(db, {
        owner,
        now: clock.now(),
        claimMs: settings.claimMs,
        limit: settings.batchSize,
      });
      if (batch.length === 0) break;
      log.debug({ messages: batch.length }, 'claimed a batch');
      state = 'sending';
      for (const [i, message] of batch.entries()) {
        if ((state as string) === 'stopping') {
          const rest = batch.slice(i).map((m) => m.id);
          await outbox.releaseUntried(db, rest, owner, clock.now(), 'not tried: the mailer was stopping');
          counts.released += rest.length;
          break;
        }
        const claimedUntil = performance.now() + settings.claimMs;
        if (!(await outbox.renewClaim(db, message.id, owner, clock.now(), settings.claimMs))) continue;
        const failed = await transport.send(message).then(
          () => undefined,
          (err: unknown) => ({ err }),
        );
        if (!failed) {
          // Delivered: only the bookkeeping is left, and a database error here
          // is no failed send (retrying the send would deliver it twice).
          await markSent(message.id, claimedUntil);
          counts.sent++;
          continue;
        }
        const { err } = failed;
        const why = err instanceof Error ? err.message : String(err);
        // An unreachable server is no fault of the message: it waits out the
        // outage. A refusal (5xx) or repeated other failures end it.
        const unreachable = isConnectionFailure(err);
        if (isPermanent(err) || (!unreachable && message.attempts >= settings.maxAttempts)) {
          await outbox.markDead(db, message.id, owner, why);
          counts.dead++;
          log.error({ id: message.id, attempts: message.attempts, why }, 'message is dead');
          continue;
        }
        const next = clock.now() + backoffMs(message.attempts, settings.retryMaxMs);
        await outbox.markRetry(db, message.id, owner, why, next);
        counts.retried++;
        log.warn({ id: message.id, attempts: message.attempts, retryInMs: next - clock.now(), why }, 'send failed');
        if (unreachable) {
          // The rest of the batch would fail the same way: give it back
          // untried, due when this message is, and stop.
          const rest = batch.slice(i + 1).map((m) => m.id);
          await outbox.releaseUntried(db, rest, owner, next, `not tried: ${why}`);
          counts.released += rest.length;
          state = 'stopping';
          break;
        }
      }
    }
  } finally {
    clock.stop();
    transport.close();
    await db.destroy();
    log.info(counts, 'mailer done');
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`mailer failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
