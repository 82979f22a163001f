// Mail throughput: messages per second from the outbox, through mailer child
// processes, to a real SMTP server on loopback — and how many processes were
// spawned for how many messages (one per batch at most, never one per message).
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { openDatabase } from '../db/knex.js';
import { migrate } from '../db/migrate.js';
import { countDue, enqueue, outboxStats } from '../db/outbox.js';
import { loadConfig } from '../server/config/config.js';
import { createMailers } from '../workers/mail/launcher.js';
import { round } from './lib.js';
import type { Plan } from './http-sections.js';

export async function mail(plan: Plan) {
  const messages = plan.quick ? 300 : 1000;
  const batchSize = 50;
  let received = 0;
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 100,
    onData(stream, _session, callback) {
      stream.on('data', () => undefined);
      stream.on('end', () => {
        received++;
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = ((smtp as unknown as { server: { address(): AddressInfo } }).server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'freshen-mail-bench-'));
  const config = loadConfig({
    DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
    SMTP_URL: `smtp://127.0.0.1:${port}`,
    MAIL_BATCH_SIZE: String(batchSize),
    MAIL_MAX_PROCS: '2',
    MAIL_SWEEP_SECONDS: '0.1',
    LOG_LEVEL: 'warn',
  });
  const db = openDatabase(config.database);
  const mailers = createMailers({ config, db, logger: pino({ level: 'warn' }), now: Date.now });
  try {
    await migrate(db);
    for (let n = 0; n < messages; n++) {
      await enqueue(
        db,
        {
          kind: 'bench',
          recipients: ['ops@example.test'],
          subject: `message ${n}`,
          text: `body of message ${n}\n`.repeat(20),
          html: `<p>body of message ${n}</p>`,
          dedupeKey: `bench:${n}`,
          messageId: `<bench-${n}@example.test>`,
        },
        Date.now(),
        3_600_000,
      );
    }
    const t0 = performance.now();
    await mailers.sweep();
    const deadline = t0 + 120_000;
    for (;;) {
      const { counts } = await outboxStats(db, Date.now());
      if (counts.sent + counts.dead >= messages && mailers.stats().running === 0) break;
      if (performance.now() > deadline) throw new Error(`mail bench: ${counts.sent}/${messages} sent in 120 s`);
      if ((await countDue(db, Date.now())) > 0 && mailers.stats().running === 0) await mailers.sweep();
      await new Promise((r) => setTimeout(r, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    const { counts } = await outboxStats(db, Date.now());
    const spawned = mailers.stats().spawned;
    return {
      messages,
      sent: counts.sent,
      received,
      messagesPerSecond: round(messages / seconds, 1),
      processesSpawned: spawned,
      batches: Math.ceil(messages / batchSize),
      processesPerBatch: round(spawned / Math.ceil(messages / batchSize), 3),
    };
  } finally {
    await mailers.stop(0, 5000);
    await db.destroy();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}
