// The parts every mail test needs: an upstream, a real SMTP server, a service
// sending to it (sweeping often), and a database connection of the test's own.
import { openDatabase, type Knex } from '../../db/knex.js';
import type { NewMessage } from '../../db/outbox.js';
import { startTestSmtp, type TestSmtp } from './smtp.js';
import { startTestUpstream, type TestUpstream } from './upstream.js';
import { startTestService, type TestService } from './service.js';

export interface MailSetup {
  upstream: TestUpstream;
  smtp: TestSmtp;
  service: TestService;
  db: Knex;
  stop(): Promise<void>;
}

export async function startMailSetup(env: Record<string, string>): Promise<MailSetup> {
  const upstream = await startTestUpstream();
  const smtp = await startTestSmtp();
  const service = await startTestService(upstream.url, {
    // SMTP on loopback answers at once: a short timeout lets the tests' short claims pass the
    // start-up check (a claim must outlast 3 × SMTP_TIMEOUT_SECONDS).
    env: { SMTP_URL: smtp.url, SMTP_TIMEOUT_SECONDS: '1', MAIL_SWEEP_SECONDS: '0.2', ...env },
  });
  const db = openDatabase(service.config.database);
  return {
    upstream,
    smtp,
    service,
    db,
    async stop() {
      await db.destroy();
      await service.stop();
      await smtp.close();
      await upstream.close();
    },
  };
}

/** A message of a test's own, put straight in the outbox: number n of a batch tagged `tag`. */
export function testMessage(n: number, tag: string): NewMessage {
  return {
    kind: 'test',
    recipients: ['ops@example.test'],
    subject: `${tag} ${n}`,
    text: `message ${n}`,
    html: `<p>message ${n}</p>`,
    dedupeKey: `${tag}:${n}`,
    messageId: `<${tag}-${n}@example.test>`,
  };
}
