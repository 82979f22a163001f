// Puts notices in the outbox and wakes a mailer. A request that causes a
// notice awaits this, so the notice is committed before the answer is sent.
// Sending happens elsewhere (workers/mailer.ts, another process). A
// notice the database does not take (it is away) is held in memory and
// written when it takes writes again; only a process that ends meanwhile
// loses it, and says so in its log.
import type { Logger } from 'pino';
import type { Db } from '../../db/knex.js';
import { isDatabaseUnavailable } from '../../db/errors.js';
import { enqueue, type NewMessage } from '../../db/outbox.js';
import type { Mailers } from '../../workers/mail/launcher.js';
import type { Config } from '../config/config.js';
import { DEFAULT_SOURCE } from '../../shared/sources.js';
import {
  databaseOutageNotice,
  invalidDataNotice,
  resolvedNotice,
  serverErrorNotice,
  type DatabaseOutage,
  type InvalidData,
  type Resolved,
  type ServerError,
  type UpstreamHealthy,
  type UpstreamUnhealthy,
  upstreamHealthyNotice,
  upstreamUnhealthyNotice,
} from './notices.js';

export interface Notifier {
  invalidData(info: InvalidData): Promise<void>;
  serverError(info: Omit<ServerError, 'at'>): Promise<void>;
  databaseOutage(info: DatabaseOutage): Promise<void>;
  /** An entry the content team was told was invalid is valid again. */
  resolved(info: Resolved): Promise<void>;
  /** The upstream's breaker opened (this process opened it), and closed. */
  upstreamUnhealthy(info: UpstreamUnhealthy): Promise<void>;
  upstreamHealthy(info: UpstreamHealthy): Promise<void>;
  /** Notices waiting for the database to take them. */
  held(): number;
  /** Stop retrying; what is still held is logged as lost. */
  stop(): void;
  /** The same notifier for one source: its invalid-data notices go to its content team and name it. */
  forSource(source: string, contentTeam: readonly string[]): Notifier;
}

/** Notices held while the database is away; past this, new ones are dropped (and logged). */
export const MAX_HELD_NOTICES = 1000;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

export function createNotifier(deps: {
  db: Db;
  config: Config;
  mailers: Mailers;
  logger: Logger;
  /** The database's clock: the mailers, in other processes, compare these times with it. */
  now: () => number;
}): Notifier {
  const { db, config, mailers, logger, now } = deps;
  const { admins, from, cooldownMs } = config.mail;
  if (admins.length === 0) logger.warn('ADMINS is empty: nobody is told about server errors');

  const held: NewMessage[] = [];
  let retry: NodeJS.Timeout | undefined;
  let retryMs = RETRY_FIRST_MS;
  let stopped = false;

  async function write(message: NewMessage): Promise<void> {
    if (await enqueue(db, message, now(), cooldownMs)) {
      logger.info({ kind: message.kind, key: message.dedupeKey }, 'notice queued');
      mailers.kick();
    } else {
      logger.debug({ key: message.dedupeKey }, 'notice already sent within the cool-down');
    }
  }

  async function put(message: NewMessage): Promise<void> {
    try {
      await write(message);
    } catch (err) {
      hold(message, err);
    }
  }

  function hold(message: NewMessage, err: unknown): void {
    const fields = { err, kind: message.kind, key: message.dedupeKey };
    // Only an outage ends by itself; a statement the database refuses would be refused again.
    if (stopped || !isDatabaseUnavailable(err) || held.length >= MAX_HELD_NOTICES) {
      logger.error({ ...fields, held: held.length }, 'could not queue a notice, and cannot hold more: it is lost');
      return;
    }
    held.push(message);
    logger.warn({ ...fields, held: held.length }, 'could not queue a notice; holding it in memory and trying again');
    retry ??= setTimeout(() => void writeHeld(), retryMs);
  }

  /** Writes held notices in order; on the first failure, tries again later (doubling, capped). */
  async function writeHeld(): Promise<void> {
    retry = undefined;
    while (held.length > 0) {
      if (stopped) return;
      const message = held[0] as NewMessage;
      try {
        await write(message);
      } catch (err) {
        if (isDatabaseUnavailable(err)) {
          retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
          retry = setTimeout(() => void writeHeld(), retryMs);
          return;
        }
        logger.error({ err, kind: message.kind, key: message.dedupeKey }, 'the database refused a held notice: it is lost');
      }
      held.shift();
      if (held.length === 0) logger.info('held notices written to the outbox');
    }
    retryMs = RETRY_FIRST_MS;
  }

  const notifierOf = (source: string, contentTeam: readonly string[]): Notifier => ({
    async invalidData(info) {
      if (contentTeam.length > 0) await put(invalidDataNotice({ ...info, source }, contentTeam, from));
    },
    async serverError(info) {
      if (admins.length > 0) await put(serverErrorNotice({ ...info, at: now() }, admins, from));
    },
    async databaseOutage(info) {
      if (admins.length > 0) await put(databaseOutageNotice(info, admins, from));
    },
    async resolved(info) {
      if (contentTeam.length > 0) await put(resolvedNotice({ ...info, source }, contentTeam, from));
    },
    async upstreamUnhealthy(info) {
      if (admins.length > 0) await put(upstreamUnhealthyNotice(info, admins, from));
    },
    async upstreamHealthy(info) {
      if (admins.length > 0) await put(upstreamHealthyNotice(info, admins, from));
    },
    held: () => held.length,
    forSource: notifierOf,
    stop() {
      stopped = true;
      clearTimeout(retry);
      if (held.length > 0) {
        logger.error({ lost: held.map((m) => m.dedupeKey) }, `stopping with ${held.length} notices the database never took: they are lost`);
      }
    },
  });
  return notifierOf(DEFAULT_SOURCE, config.mail.contentTeam);
}
