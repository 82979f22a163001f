// Listens (Postgres LISTEN) for the refreshes other processes store, on a
// connection of its own outside the pool — one more per process in the
// connection arithmetic. It reconnects after an outage with backoff, and says
// so (`resumed`): what was stored meanwhile went unheard. Behind a pooler that
// does not pass LISTEN through (PgBouncer in transaction mode), nothing
// arrives, and memory tiers catch up when their copies turn stale.
import { Client } from 'pg';
import { backoffMs } from '../shared/backoff.js';

export interface StoredListener {
  close(): Promise<void>;
}

export interface StoredHandlers {
  /** An entry was stored by the lease owner named (empty when unknown). */
  stored(id: string, owner: string): void;
  /** Listening again after the connection was lost: notices may have been missed. */
  resumed(): void;
  /** The connection failed; it is tried again. */
  lost(err: unknown): void;
}

export const STORED_CHANNEL = 'freshen_entries';

export function listenForStored(url: string, handlers: StoredHandlers): StoredListener {
  let client: Client | undefined;
  let closed = false;
  let failures = 0;
  let retry: NodeJS.Timeout | undefined;

  async function connect(): Promise<void> {
    const c = new Client({ connectionString: url });
    c.on('notification', (n) => {
      const payload = n.payload ?? '';
      const space = payload.lastIndexOf(' ');
      handlers.stored(payload.slice(space + 1), payload.slice(0, Math.max(0, space)));
    });
    c.on('error', (err) => drop(c, err));
    c.on('end', () => drop(c, new Error('the listening connection ended')));
    try {
      await c.connect();
      await c.query(`listen ${STORED_CHANNEL}`);
    } catch (err) {
      drop(c, err);
      return;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    if (failures > 0) handlers.resumed();
    failures = 0;
  }

  function drop(c: Client, err: unknown): void {
    if (client === c) client = undefined;
    c.removeAllListeners('end');
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

  void connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners('end');
        await c.end().catch(() => undefined);
      }
    },
  };
}
