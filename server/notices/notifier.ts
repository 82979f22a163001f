// Puts notices in the outbox and wakes a mailer. A request that causes a
// notice awaits this, so the notice is committed before the answer is sent.
// Sending happens elsewhere (workers/mail/mailer.ts, another process).
import type { Logger } from 'pino';
import type { Db } from '../../db/knex.js';
import { enqueue, type NewMessage } from '../../db/outbox.js';
import type { Mailers } from '../../workers/mail/launcher.js';
import type { Config } from '../config/config.js';
import { databaseOutageNotice, invalidDataNotice, serverErrorNotice, type DatabaseOutage, type InvalidData, type ServerError } from './notices.js';

export interface Notifier {
  invalidData(info: InvalidData): Promise<void>;
  serverError(info: Omit<ServerError, 'at'>): Promise<void>;
  databaseOutage(info: DatabaseOutage): Promise<void>;
}

export function createNotifier(deps: {
  db: Db;
  config: Config;
  mailers: Mailers;
  logger: Logger;
  /** The database's clock: the mailers, in other processes, compare these times with it. */
  now: () => number;
}): Notifier {
  const { db, config, mailers, logger, now } = deps;
  const { contentTeam, admins, from, cooldownMs } = config.mail;
  if (contentTeam.length === 0) logger.warn('CONTENT_TEAM is empty: nobody is told about invalid upstream data');
  if (admins.length === 0) logger.warn('ADMINS is empty: nobody is told about server errors');

  async function put(message: NewMessage): Promise<void> {
    try {
      if (await enqueue(db, message, now(), cooldownMs)) {
        logger.info({ kind: message.kind, key: message.dedupeKey }, 'notice queued');
        mailers.kick();
      } else {
        logger.debug({ key: message.dedupeKey }, 'notice already sent within the cool-down');
      }
    } catch (err) {
      logger.error({ err, kind: message.kind, key: message.dedupeKey }, 'could not queue a notice');
    }
  }

  return {
    async invalidData(info) {
      if (contentTeam.length > 0) await put(invalidDataNotice(info, contentTeam, from));
    },
    async serverError(info) {
      if (admins.length > 0) await put(serverErrorNotice({ ...info, at: now() }, admins, from));
    },
    async databaseOutage(info) {
      if (admins.length > 0) await put(databaseOutageNotice(info, admins, from));
    },
  };
}
