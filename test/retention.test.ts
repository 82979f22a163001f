// Retention on each database: sent and dead messages and cool-downs past
// OUTBOX_RETENTION_DAYS go, and so do rows holding no record that nobody has
// touched for a day; messages still to send, cool-downs within their window,
// records and leased rows stay. Time is passed in: nothing waits for a day.
import { expect } from 'chai';
import { pino } from 'pino';
import * as entries from '../db/entries.js';
import * as outbox from '../db/outbox.js';
import { startRetention } from '../server/ops/retention.js';
import type { Knex } from '../db/knex.js';
import { migratedDatabase } from './support/database.js';

const DAY = 86_400_000;

const message = (key: string) => ({
  kind: 'test',
  recipients: ['ops@example.test'],
  subject: key,
  text: 't',
  html: '<p>t</p>',
  dedupeKey: key,
  messageId: `<${key}@example.test>`,
});

describe('retention', () => {
  let close: (() => Promise<void>) | undefined;
  let db: Knex;
  const now = Date.UTC(2030, 5, 1);

  before(async () => {
    ({ db, close } = await migratedDatabase());
  });
  after(async () => {
    await close?.();
  });

  async function enqueueAt(key: string, at: number, state: 'pending' | 'sent' | 'dead'): Promise<void> {
    await outbox.enqueue(db, message(key), at, 0);
    if (state !== 'pending') {
      await db('outbox').where({ dedupe_key: key }).update({ state, sent_at: state === 'sent' ? at : null });
    }
  }

  it('deletes what is past its retention and keeps everything else', async () => {
    await enqueueAt('old-sent', now - 31 * DAY, 'sent');
    await enqueueAt('old-dead', now - 31 * DAY, 'dead');
    await enqueueAt('old-pending', now - 31 * DAY, 'pending');
    await enqueueAt('new-sent', now - 29 * DAY, 'sent');

    const row = { record: null, state: 'not-found', lease_owner: null, lease_until: 0, lease_generation: 1 };
    await db('entries').insert([
      { ...row, id: 'gone-old', fetched_at: now - 2 * DAY, updated_at: now - 2 * DAY },
      { ...row, id: 'gone-new', fetched_at: now - DAY / 2, updated_at: now - DAY / 2 },
      { ...row, id: 'never-old', state: 'none', fetched_at: null, updated_at: now - 2 * DAY },
      { ...row, id: 'leased-old', state: 'none', fetched_at: null, updated_at: now - 2 * DAY, lease_owner: 'x', lease_until: now + 1000 },
      { ...row, id: 'record-old', state: 'ok', record: '{}', hash: 'h', fetched_at: now - 40 * DAY, updated_at: now - 40 * DAY },
    ]);

    const retention = startRetention({
      db,
      logger: pino({ level: 'silent' }),
      now: () => now,
      outboxRetentionMs: 30 * DAY,
      cooldownMs: 3_600_000,
      maxStaleMs: DAY,
    });
    try {
      await retention.prune();
    } finally {
      retention.stop();
    }

    const keys = (await db('outbox').select('dedupe_key').orderBy('dedupe_key')).map((r: { dedupe_key: string }) => r.dedupe_key);
    expect(keys).to.deep.equal(['new-sent', 'old-pending']);
    const cooldowns = (await db('mail_cooldowns').select('key').orderBy('key')).map((r: { key: string }) => r.key);
    expect(cooldowns).to.deep.equal(['new-sent']);
    const ids = (await db('entries').select('id').orderBy('id')).map((r: { id: string }) => r.id);
    expect(ids).to.deep.equal(['gone-new', 'leased-old', 'record-old']);
    expect(await entries.getEntry(db, 'record-old')).to.not.equal(undefined);
  });

  it('keeps a cool-down for its whole window, even past the retention', async () => {
    await outbox.enqueue(db, message('long-cooldown'), now - 2 * DAY, 0);
    await outbox.pruneOutbox(db, now - DAY, now - 3 * DAY);
    expect(await db('mail_cooldowns').where({ key: 'long-cooldown' }).first()).to.not.equal(undefined);
  });

  it('keeps cool-downs for MAIL_COOLDOWN_SECONDS when that is longer than OUTBOX_RETENTION_DAYS (one day, three days)', async () => {
    await enqueueAt('cooling', now - 2 * DAY, 'sent');
    await enqueueAt('cooled', now - 4 * DAY, 'sent');
    const retention = startRetention({
      db,
      logger: pino({ level: 'silent' }),
      now: () => now,
      outboxRetentionMs: DAY,
      cooldownMs: 3 * DAY,
      maxStaleMs: DAY,
    });
    try {
      await retention.prune();
    } finally {
      retention.stop();
    }
    // The messages go after a day; the one cool-down still within its window stays.
    expect(await db('outbox').whereIn('dedupe_key', ['cooling', 'cooled']).select('dedupe_key')).to.deep.equal([]);
    const cooldowns = (await db('mail_cooldowns').whereIn('key', ['cooling', 'cooled']).select('key')).map((r: { key: string }) => r.key);
    expect(cooldowns).to.deep.equal(['cooling']);
  });
});
