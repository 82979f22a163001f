// The circuit breaker of the upstream: when it is sick, stop asking it.
// This process judges the last refreshes it sent (UPSTREAM_BREAKER_MIN_ATTEMPTS
// of them, within the window: a count-based window, so the successes of a
// busy minute before do not let a dead upstream be asked hundreds of times); the state lives in the database (db/upstream-health.ts),
// so a breaker one node opens holds the whole fleet within SYNC_MS, and the
// probe after each cool-off is claimed on the row: one per cool-off across
// the fleet. A library breaker (opossum) keeps its state and its half-open
// trial in one process, which is what this must not do.
import type { Logger } from 'pino';
import type { Db } from '../../db/knex.js';
import * as health from '../../db/upstream-health.js';
import type { UpstreamHealth } from '../../db/upstream-health.js';
import type { RefreshResult } from '../../workers/protocol.js';

/** How often the shared state is read: how soon a node hears that another one opened or closed it. */
export const SYNC_MS = 1000;

export interface BreakerSettings {
  /** The failed share, in percent, that opens it (0: never). */
  failurePercent: number;
  minAttempts: number;
  windowMs: number;
  coolOffMs: number;
  maxCoolOffMs: number;
  /** How long a claimed probe may take before another node may claim one. */
  probeTimeoutMs: number;
}

export type Admission = { send: true; probe: boolean } | { send: false; retryAt: number };

export interface BreakerView {
  origin: string;
  state: 'closed' | 'open' | 'probing';
  /** Open: when the next probe may go (database time). */
  openUntil: number;
  openedAt: number;
  openedBy: string | null;
  reason: string | null;
  /** The window as this process sees it. */
  attempts: number;
  failures: number;
}

export interface BreakerCounters {
  /** Transitions this process saw, by the state they led to. */
  transitions: { opened: number; reopened: number; closed: number };
  /** Refreshes not sent because the breaker was open. */
  held: number;
  /** Probes this process sent. */
  probes: number;
}

export interface Breaker {
  /** Is the upstream held off now (open, whether or not a probe is due)? Synchronous: the hot path asks. */
  isOpen(): boolean;
  /** Before a refresh: send it (maybe as the probe), or hold it until `retryAt`. */
  admit(): Promise<Admission>;
  /** A sent refresh's result. */
  record(result: RefreshResult, admission: Admission): Promise<void>;
  /** An admitted refresh that was not sent after all (no lease, the pool full). */
  unused(admission: Admission): void;
  view(): BreakerView;
  counters(): BreakerCounters;
  stop(): void;
}

export interface BreakerDeps {
  db: Db;
  origin: string;
  /** This process's name (as on the leases). */
  owner: string;
  settings: BreakerSettings;
  logger: Logger;
  now: () => number;
  /** Told when this process made the transition (one notice for the fleet). */
  opened?: (info: { origin: string; reason: string; at: number; until: number }) => void;
  closed?: (info: { origin: string; openedAt: number; at: number }) => void;
  onError?: (err: unknown) => void;
}

/** The upstream's own failures: not a 404, not invalid data, not this service's pool. */
function upstreamFailed(result: RefreshResult): boolean {
  return result.kind === 'failed' && (result.code === 'timeout' || result.code === 'unreachable' || result.code === 'unavailable');
}

function describe(result: RefreshResult): string {
  return result.kind === 'failed' ? result.message : result.kind;
}

export function createBreaker(deps: BreakerDeps): Breaker {
  const { db, origin, owner, settings, logger, now } = deps;
  // The last minAttempts refreshes sent (when each ended, and whether the upstream failed it), oldest first.
  const recent: Array<{ at: number; failed: boolean }> = [];
  const counters: BreakerCounters = { transitions: { opened: 0, reopened: 0, closed: 0 }, held: 0, probes: 0 };
  let shared: UpstreamHealth = { state: 'closed', openUntil: 0, coolOffMs: 0, openedAt: 0, openedBy: null, reason: null, probeOwner: null, probeUntil: 0 };
  // Opened here while the database would not take it: held locally until then.
  let localUntil = 0;
  let claiming = false;
  let opening = false;
  let stopped = false;

  /** The recent refreshes within the window. */
  function tally(): { attempts: number; failures: number } {
    const since = now() - settings.windowMs;
    let attempts = 0;
    let failures = 0;
    for (const r of recent) {
      if (r.at < since) continue;
      attempts++;
      if (r.failed) failures++;
    }
    return { attempts, failures };
  }

  function count(failed: boolean): { attempts: number; failures: number } {
    recent.push({ at: now(), failed });
    if (recent.length > settings.minAttempts) recent.shift();
    return tally();
  }

  /** A new reading of the shared row: log what changed, as this process sees it. */
  function adopt(next: UpstreamHealth, how: 'here' | 'elsewhere'): void {
    const before = shared;
    shared = next;
    if (before.state === next.state && (next.state === 'closed' || before.openUntil === next.openUntil)) return;
    const fields = { origin, until: next.openUntil, reason: next.reason, by: next.openedBy };
    if (next.state === 'open' && before.state === 'closed') {
      counters.transitions.opened++;
      recent.length = 0;
      logger.warn({ ...fields, seconds: Math.round((next.openUntil - now()) / 1000) }, how === 'here' ? 'upstream breaker opened: no refresh is sent until the probe' : 'upstream breaker opened by another node: no refresh is sent until the probe');
    } else if (next.state === 'open') {
      counters.transitions.reopened++;
      logger.warn({ ...fields, seconds: Math.round((next.openUntil - now()) / 1000) }, 'upstream breaker held open longer');
    } else {
      counters.transitions.closed++;
      recent.length = 0;
      logger.info({ origin }, how === 'here' ? 'upstream breaker closed: the probe succeeded' : 'upstream breaker closed by another node');
    }
  }

  async function sync(): Promise<void> {
    // Every change to the shared row's view here is a new object: one made while the read was under way is newer than what it read.
    const seen = shared;
    try {
      const reading = await health.readHealth(db, origin);
      if (shared === seen) adopt(reading, 'elsewhere');
    } catch (err) {
      deps.onError?.(err); // the last reading stands
    }
  }
  // The first reading is awaited by the first refresh: a process started while the breaker is open sends nothing.
  let first: Promise<void> | undefined = sync();
  const timer = setInterval(() => void sync(), SYNC_MS);
  timer.unref();

  /** `extend`: an upstream's Retry-After, which holds an open breaker longer too. */
  async function open(reason: string, forMs: number, extend: boolean): Promise<void> {
    // Results that arrive while one opening is under way do not race it.
    if (opening) return;
    opening = true;
    const at = now();
    const until = at + forMs;
    try {
      if (await health.openBreaker(db, { origin, owner, now: at, until, coolOffMs: settings.coolOffMs, reason, extend })) {
        adopt({ ...shared, state: 'open', openUntil: until, coolOffMs: settings.coolOffMs, openedAt: at, openedBy: owner, reason, probeOwner: null, probeUntil: 0 }, 'here');
        deps.opened?.({ origin, reason, at, until });
      } else {
        await sync();
      }
    } catch (err) {
      // The database is away: this process holds off on its own meanwhile.
      localUntil = until;
      deps.onError?.(err);
    } finally {
      opening = false;
    }
  }

  function isOpen(): boolean {
    return shared.state === 'open' || localUntil > now();
  }

  async function admit(): Promise<Admission> {
    if (first) {
      await first;
      first = undefined;
    }
    const at = now();
    if (localUntil > at) return hold(localUntil);
    if (shared.state === 'closed') return SEND;
    // Open: only the probe goes, once the cool-off ends; claimed on the row by one process of the fleet.
    const probeFree = shared.probeOwner === null || shared.probeUntil <= at;
    if (at < shared.openUntil || !probeFree || claiming || stopped) return hold(Math.max(shared.openUntil, shared.probeUntil, at + SYNC_MS));
    claiming = true;
    try {
      const coolOff = await health.claimProbe(db, { origin, owner, now: at, probeUntil: at + settings.probeTimeoutMs });
      if (coolOff === undefined) {
        void sync();
        return hold(at + SYNC_MS);
      }
      shared = { ...shared, probeOwner: owner, probeUntil: at + settings.probeTimeoutMs, coolOffMs: coolOff };
      counters.probes++;
      return PROBE;
    } catch (err) {
      deps.onError?.(err);
      return hold(at + settings.coolOffMs);
    } finally {
      claiming = false;
    }
  }

  function hold(retryAt: number): Admission {
    counters.held++;
    return { send: false, retryAt };
  }

  async function record(result: RefreshResult, admission: Admission): Promise<void> {
    if (!admission.send || settings.failurePercent === 0) return;
    const failed = upstreamFailed(result);
    if (admission.probe) {
      // The pool's own failure says nothing of the upstream: another probe may go.
      if (result.kind === 'failed' && !failed) return unused(admission);
      try {
        const at = now();
        if (!failed) {
          if (await health.closeBreaker(db, { origin, owner, now: at })) {
            const openedAt = shared.openedAt;
            adopt({ ...shared, state: 'closed', openUntil: 0, probeOwner: null, probeUntil: 0 }, 'here');
            deps.closed?.({ origin, openedAt, at });
          }
        } else {
          const coolOffMs = Math.min(settings.maxCoolOffMs, Math.max(shared.coolOffMs, settings.coolOffMs) * 2);
          const reason = `the probe failed: ${describe(result)}`;
          if (await health.reopenBreaker(db, { origin, owner, now: at, coolOffMs, reason })) {
            adopt({ ...shared, openUntil: at + coolOffMs, coolOffMs, reason, probeOwner: null, probeUntil: 0 }, 'here');
          }
        }
      } catch (err) {
        deps.onError?.(err);
      }
      return;
    }
    if (shared.state === 'open') return; // sent before it opened: the probe decides now
    // The upstream says when to come back: not before then, within reason.
    if (result.kind === 'failed' && result.code === 'unavailable' && result.retryAfterMs !== undefined && result.retryAfterMs > 0) {
      return open(`${result.message}, with Retry-After ${Math.ceil(result.retryAfterMs / 1000)} s`, Math.min(result.retryAfterMs, settings.maxCoolOffMs), true);
    }
    const { attempts, failures } = count(failed);
    if (failed && attempts >= settings.minAttempts && failures * 100 >= settings.failurePercent * attempts) {
      await open(`${failures} of ${attempts} refreshes failed within ${settings.windowMs / 1000} s (the last: ${describe(result)})`, settings.coolOffMs, false);
    }
  }

  function unused(admission: Admission): void {
    if (!admission.send || !admission.probe) return;
    const { probeUntil } = shared;
    shared = { ...shared, probeOwner: null, probeUntil: 0 };
    health.releaseProbe(db, { origin, owner, probeUntil }).catch((err: unknown) => deps.onError?.(err));
  }

  return {
    isOpen,
    admit,
    record,
    unused,
    view() {
      const { attempts, failures } = tally();
      const held = isOpen();
      const probing = shared.state === 'open' && shared.probeOwner !== null && shared.probeUntil > now();
      return {
        origin,
        state: probing ? 'probing' : held ? 'open' : 'closed',
        openUntil: shared.state === 'open' ? shared.openUntil : localUntil,
        openedAt: shared.openedAt,
        openedBy: shared.openedBy,
        reason: shared.reason,
        attempts,
        failures,
      };
    },
    counters: () => counters,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

const SEND: Admission = { send: true, probe: false };
const PROBE: Admission = { send: true, probe: true };
