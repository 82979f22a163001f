// How a mailer hands a message on: a pooled SMTP connection (SMTP_URL), or —
// the embedded default — an .eml file per message under MAIL_DIR, written
// atomically (temporary file, then rename).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTransport } from 'nodemailer';
import type { OutboxRow } from '../../db/outbox.js';
import type { MailerSettings } from './settings.js';

export interface MailTransport {
  send(message: OutboxRow): Promise<void>;
  close(): void;
}

export function createMailTransport(settings: MailerSettings): MailTransport {
  const envelope = (m: OutboxRow) => ({
    from: settings.from,
    to: [...m.recipients],
    subject: m.subject,
    text: m.text,
    html: m.html,
    messageId: m.messageId,
    headers: { 'X-Freshen-Kind': m.kind },
  });

  if (settings.smtpUrl) {
    const smtp = createTransport({
      url: settings.smtpUrl,
      pool: true,
      maxConnections: 1,
      connectionTimeout: settings.smtpTimeoutMs,
      greetingTimeout: settings.smtpTimeoutMs,
      socketTimeout: settings.smtpTimeoutMs,
      maxMessages: 1000,
    });
    return {
      send: async (m) => void (await smtp.sendMail(envelope(m))),
      close: () => smtp.close(),
    };
  }

  const files = createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(m) {
      const info = (await files.sendMail(envelope(m))) as { message: Buffer };
      await mkdir(settings.dir, { recursive: true });
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${m.id}.eml`;
      const temp = join(settings.dir, `.${name}.tmp`);
      await writeFile(temp, info.message);
      await rename(temp, join(settings.dir, name));
    },
    close: () => files.close(),
  };
}

/** An SMTP answer that will not change on retry (5xx), or anything else. */
export function isPermanent(err: unknown): boolean {
  const code = (err as { responseCode?: unknown }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

/** The server could not be reached or spoken to at all: the rest of a batch would fail too. */
export function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'ECONNECTION' || code === 'ETIMEDOUT' || code === 'ESOCKET' || code === 'EDNS' || code === 'EGREETING';
}
