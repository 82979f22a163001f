// What a mailer child is told on its stdin when it starts (JSON): written by
// the launcher, read by the mailer.
import type { DatabaseConfig, DatabasePool } from '../../db/knex.js';

/** What a mailer child is told on its stdin when it starts (JSON). */
export interface MailerSettings {
  database: DatabaseConfig;
  /** The server's timeouts, with a mailer's own few connections. */
  pool: DatabasePool;
  smtpUrl: string | undefined;
  /** Connection, greeting and socket-inactivity limit of an SMTP send. */
  smtpTimeoutMs: number;
  dir: string;
  from: string;
  batchSize: number;
  claimMs: number;
  maxAttempts: number;
  retryMaxMs: number;
  logLevel: string;
  /** The server that started the mailer: with another parent, the mailer is orphaned. */
  serverPid: number;
}
