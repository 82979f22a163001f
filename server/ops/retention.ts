// Retention, so that no table grows forever: sent and dead messages and mail
// cool-downs older than OUTBOX_RETENTION_DAYS, and rows that hold no record
// (ids the upstream does not have) untouched for a day or ENTRY_MAX_STALE,
// whichever is longer; webhook signatures past their window and (Postgres)
// purge notices older than an hour. A small loop: once shortly after start, then hourly;
// a failed round is logged and the next one tries again.
import type { Logger } from 'pino';
import { pruneRecordless } from '../../db/entry-retention.js';
import type { Db } from '../../db/knex.js';
import { pruneOutbox } from '../../db/outbox.js';
import { prunePurgeBatches } from '../../db/entry-purges.js';
import { pruneDeliveries } from '../../db/webhook-deliveries.js';

const FIRST_ROUND_MS = 60_000;
const ROUND_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Purge notices are kept this long for nodes that poll or were briefly away. */
const PURGE_NOTICES_MS = 3_600_000;

export interface Retention {
  /** One round now (the loop's rounds call this). */
  prune(): Promise<void>;
  stop(): void;
}

export function startRetention(deps: {
  db: Db;
  logger: Logger;
  /** The database's clock. */
  now: () => number;
  outboxRetentionMs: number;
  /** A cool-down is kept at least its own window. */
  cooldownMs: number;
  maxStaleMs: number;
}): Retention {
  const { db, logger, now } = deps;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  async function prune(): Promise<void> {
    const at = now();
    const mail = await pruneOutbox(db, at - deps.outboxRetentionMs, at - Math.max(deps.outboxRetentionMs, deps.cooldownMs));
    const entries = await pruneRecordless(db, at - Math.max(DAY_MS, deps.maxStaleMs));
    const signatures = await pruneDeliveries(db, at);
    const purges = await prunePurgeBatches(db, at - PURGE_NOTICES_MS);
    if (mail.messages + mail.cooldowns + entries + signatures + purges > 0) {
      logger.info({ messages: mail.messages, cooldowns: mail.cooldowns, entries, signatures, purges }, 'pruned rows past their retention');
    }
  }

  function schedule(ms: number): void {
    if (stopped) return;
    timer = setTimeout(() => {
      prune()
        .catch((err: unknown) => logger.warn({ why: (err as Error).message }, 'pruning failed; the next round tries again'))
        .finally(() => schedule(ROUND_MS));
    }, ms);
    timer.unref();
  }

  schedule(FIRST_ROUND_MS);
  return {
    prune,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
