// Hears the refreshes other processes store (Postgres), to drop this
// process's older copies at once. Two ways, whichever works through what is
// between this node and the database:
// - LISTEN, on a connection of its own (one more per process in the
//   connection arithmetic), checked at start and after each reconnect by a
//   NOTIFY sent through the pool that must come back (a pooler in transaction
//   mode does not pass notices on); its connection is kept alive (TCP
//   keep-alive, and a query every HEARTBEAT_MS that must answer in time), and
//   replaced, with backoff, when it dies. After a loss it says so (`resumed`):
//   what was stored meanwhile went unheard.
// - else polling: every POLL_MS the stores numbered past the last one seen
//   (entries.change_seq, from the storing trigger; migration 009), a bounded
//   page through their index.
// Purges are heard the same way: a NOTIFY of each batch's number on a channel
// of its own, or a poll of the batches numbered past the last one seen; the
// batch's ids are read from entry_purges.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { backoffMs } from '../shared/backoff.js';
import { lastPurgeBatch, purgeBatch, purgeBatchesAfter, PURGED_CHANNEL, type PurgeBatch } from './entry-purges.js';
import { rawRows, type Db } from './knex.js';

export interface StoredListener {
  close(): Promise<void>;
}

export interface StoredHandlers {
  /** An entry of a source was stored by the lease owner named (empty when unknown). */
  stored(source: string, id: string, owner: string): void;
  /** A purge batch: these entries were marked stale, or dropped (`hard`). */
  purged(batch: PurgeBatch): void;
  /** Listening again after the connection was lost: notices may have been missed. */
  resumed(): void;
  /** The connection failed; it is tried again. */
  lost(err: unknown): void;
  /** How stores are heard from now on, and why. */
  mode(how: 'listen' | 'poll', why: string): void;
}

export const STORED_CHANNEL = 'freshen_entries';
/** The listening connection's application_name (pg_stat_activity). */
export const LISTENER_NAME = 'freshen-listen';
const PROBE_CHANNEL = 'freshen_probe';

export interface ListenTimings {
  /** How long a probe NOTIFY may take to come back. */
  probeMs: number;
  /** How often the listening connection must answer a query… */
  heartbeatMs: number;
  /** …and within how long. */
  heartbeatTimeoutMs: number;
  /** How often stores are polled when LISTEN does not hear. */
  pollMs: number;
}

const TIMINGS: ListenTimings = { probeMs: 3000, heartbeatMs: 15_000, heartbeatTimeoutMs: 5000, pollMs: 1000 };
/** Stores read in one poll at most; a full page is followed by another at once. */
const POLL_PAGE = 1000;

/** `db`: the pool, through which the probe is sent (as stores are) and polls run. */
export function listenForStored(url: string, db: Db, handlers: StoredHandlers, timings: Partial<ListenTimings> = {}): StoredListener {
  const t = { ...TIMINGS, ...timings };
  let client: Client | undefined;
  let closed = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let polling: NodeJS.Timeout | undefined;
  const probes = new Map<string, () => void>();

  async function connect(): Promise<void> {
    // Named, so an operator (and a test) can tell it among the pool's connections.
    const c = new Client({ connectionString: url, keepAlive: true, keepAliveInitialDelayMillis: 10_000, connectionTimeoutMillis: 5000, application_name: LISTENER_NAME });
    c.on('notification', (n) => {
      const payload = n.payload ?? '';
      if (n.channel === PROBE_CHANNEL) return probes.get(payload)?.();
      if (n.channel === PURGED_CHANNEL) return void readPurge(Number(payload));
      // '<owner> <source> <id>' (migration 012); neither a source nor an id holds a space.
      const last = payload.lastIndexOf(' ');
      const before = payload.lastIndexOf(' ', last - 1);
      handlers.stored(payload.slice(before + 1, last), payload.slice(last + 1), payload.slice(0, Math.max(0, before)));
    });
    c.on('error', (err) => drop(c, err));
    c.on('end', () => drop(c, new Error('the listening connection ended')));
    try {
      await c.connect();
      await c.query(`listen ${STORED_CHANNEL}; listen ${PURGED_CHANNEL}; listen ${PROBE_CHANNEL}`);
    } catch (err) {
      drop(c, err);
      return;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    if (!(await heard())) {
      // Nothing comes back through what is between: no point listening.
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
      handlers.mode('poll', `a NOTIFY sent through the pool did not come back within ${t.probeMs} ms (a pooler in transaction mode?)`);
      // After a lost connection, what was stored meanwhile went unheard.
      if (failures > 0) handlers.resumed();
      await startPolling(failures === 0);
      return;
    }
    client = c;
    handlers.mode('listen', 'a NOTIFY sent through the pool came back');
    if (failures > 0) handlers.resumed();
    failures = 0;
    beat(c);
  }

  async function readPurge(seq: number): Promise<void> {
    try {
      const batch = await purgeBatch(db, seq);
      if (batch) handlers.purged(batch);
    } catch (err) {
      // Unread, its entries may be served from memory here: start afresh, as after a lost connection.
      handlers.lost(err);
      handlers.resumed();
    }
  }

  /** Does a NOTIFY sent as the stores send theirs reach this connection? */
  async function heard(): Promise<boolean> {
    const token = randomBytes(8).toString('hex');
    const back = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), t.probeMs);
      probes.set(token, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    try {
      await db.raw('select pg_notify(?, ?)', [PROBE_CHANNEL, token]);
      return await back;
    } catch {
      // The pool cannot send it now (the database is away): listen anyway, and let the heartbeat judge.
      return true;
    } finally {
      probes.delete(token);
    }
  }

  /** The listening connection must answer a query in time, or it is replaced. */
  function beat(c: Client): void {
    heartbeat = setTimeout(() => void answers(c), t.heartbeatMs);
    heartbeat.unref();
  }

  async function answers(c: Client): Promise<void> {
    const late = setTimeout(() => drop(c, new Error(`the listening connection did not answer within ${t.heartbeatTimeoutMs} ms`)), t.heartbeatTimeoutMs);
    try {
      await c.query('select 1');
      if (client === c) beat(c);
    } catch (err) {
      drop(c, err);
    } finally {
      clearTimeout(late);
    }
  }

  function drop(c: Client, err: unknown): void {
    if (client === c) client = undefined;
    clearTimeout(heartbeat);
    c.removeAllListeners('end');
    // A connection whose peer vanished may never finish ending: not waited for.
    c.end().catch(() => undefined);
    if (closed || retry) return;
    failures++;
    handlers.lost(err);
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, backoffMs(failures, 10_000));
    retry.unref();
  }

  /** `fromStart`: polling follows the first try to listen, and starts where that try did. */
  async function startPolling(fromStart: boolean): Promise<void> {
    let last: number | undefined;
    let lastPurge: number | undefined;
    let failing = false;
    const poll = async (): Promise<void> => {
      try {
        if (last === undefined || lastPurge === undefined) {
          const from = (fromStart ? await startMarks : undefined) ?? (await marks());
          last = from.changes;
          lastPurge = from.purges;
        }
        for (;;) {
          const batches = await purgeBatchesAfter(db, lastPurge, POLL_PAGE / 10);
          for (const b of batches) handlers.purged(b);
          lastPurge = batches.at(-1)?.seq ?? lastPurge;
          if (batches.length < POLL_PAGE / 10 || closed) break;
        }
        for (;;) {
          const result: unknown = await db.raw('select source, id, changed_by, change_seq from entries where change_seq > ? order by change_seq limit ?', [last, POLL_PAGE]);
          const rows = rawRows<{ source: string; id: string; changed_by: string | null; change_seq: number | string }>(db, result);
          for (const r of rows) handlers.stored(r.source, r.id, r.changed_by ?? '');
          if (rows.length > 0) last = Number((rows.at(-1) as { change_seq: number | string }).change_seq);
          if (rows.length < POLL_PAGE || closed) break;
        }
        failing = false;
      } catch (err) {
        // The database is away: the next poll picks up from the last store seen (said once an outage).
        if (!failing) handlers.lost(err);
        failing = true;
      }
      if (!closed) polling = setTimeout(() => void poll(), t.pollMs).unref();
    };
    await poll();
  }

  // What was stored or purged by then: polling, should it come to that, starts
  // here, so that nothing stored while LISTEN is tried goes unheard.
  const marks = async () => {
    const [row] = rawRows<{ n: number | string | null }>(db, await db.raw('select max(change_seq) as n from entries'));
    return { changes: Number(row?.n ?? 0), purges: await lastPurgeBatch(db) };
  };
  const startMarks = marks().catch(() => undefined);
  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      clearTimeout(heartbeat);
      clearTimeout(polling);
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners('end');
        await c.end().catch(() => undefined);
      }
    },
  };
}
