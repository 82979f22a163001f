// Outages of the database, told once each: the first request that finds the
// database away starts an incident (one log line), a probe then pings it every
// second, and when it answers the incident ends — one line, and one notice to
// the admins through the outbox (deduplicated by error code across nodes).
// Requests meanwhile are answered 503 by the error mapping and log nothing.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { ping, type Db } from '../../db/knex.js';
import type { Notifier } from '../notices/notifier.js';

const PROBE_MS = 1000;

export interface DatabaseWatch {
  /** A request found the database away (an error isDatabaseUnavailable says so of). */
  unavailable(err: unknown): void;
  /** Is an incident under way? */
  readonly down: boolean;
  stop(): void;
}

export function createDatabaseWatch(deps: {
  db: Db;
  logger: Logger;
  notifier: Notifier;
  /** The database's clock (as last measured: it cannot be read meanwhile). */
  now: () => number;
}): DatabaseWatch {
  const { db, logger, notifier, now } = deps;
  let incident: { from: number; code: string; probe: NodeJS.Timeout } | undefined;
  let probing = false;

  /** Never rejects: a failed ping is the incident going on. */
  async function probe(): Promise<void> {
    if (probing || !incident) return;
    probing = true;
    const up = await ping(db).then(
      () => true,
      () => false,
    );
    probing = false;
    const ended = incident;
    if (!up || !ended) return;
    clearInterval(ended.probe);
    incident = undefined;
    const to = now();
    logger.info({ code: ended.code, downForMs: to - ended.from }, 'the database answers again');
    // The notifier logs a notice it could not queue; it throws nothing.
    await notifier.databaseOutage({ from: ended.from, to, code: ended.code, node: `${hostname()}:${process.pid}` });
  }

  return {
    unavailable(err) {
      if (incident) return;
      const { code, name } = (err ?? {}) as { code?: unknown; name?: unknown };
      const label = typeof code === 'string' ? code : typeof name === 'string' ? name : 'unknown';
      const timer = setInterval(() => void probe(), PROBE_MS);
      timer.unref();
      incident = { from: now(), code: label, probe: timer };
      logger.error({ code: label }, 'the database is unavailable: reads that need it are answered 503 until it is back');
    },
    get down() {
      return incident !== undefined;
    },
    stop() {
      if (incident) clearInterval(incident.probe);
      incident = undefined;
    },
  };
}
