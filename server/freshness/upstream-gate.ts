// What one process asks of the upstream at most: UPSTREAM_MAX_CONCURRENCY
// requests in flight and UPSTREAM_MAX_RPS started in any second. Past either,
// refreshes wait in two queues — misses (a reader waits on them, and an
// operator's refresh) ahead of background ones (stale and ahead refreshes) —
// and a refresh is re-admitted by the breaker only once it leaves, so what
// waited here is not sent to an upstream that fell sick meanwhile. A miss
// that cannot start within its wait bound is answered 503 as when the pool is
// full; a background refresh is dropped (the next read of the entry asks again).

/**
 * The rate is kept over a sliding second plus this much, and a request counts
 * as starting now for as long as it is in flight, then from when it ended:
 * later than it really started, so however long a busy worker takes to send
 * what it was handed, no second upstream holds more than the cap. The margin
 * is for the last hop, worker to upstream. (The cost: with an upstream slow to
 * answer, fewer than the cap start per second; concurrency binds there anyway.)
 */
const WINDOW_MS = 1025;

export type Priority = 'miss' | 'background';

export interface GateSettings {
  maxConcurrency: number;
  /** Starts in any second (0: no cap). */
  maxRps: number;
  /** How long a miss waits for its turn. */
  missWaitMs: number;
}

export interface Pass {
  /** The request ended: its slot goes to the next waiting. */
  release(): void;
  /** Nothing was sent after all: its slot and its place in the rate go back. */
  unused(): void;
}

export interface GateStats {
  inFlight: number;
  waiting: Record<Priority, number>;
  /** Misses answered 503 and background refreshes dropped, because of the caps. */
  refused: Record<Priority, number>;
}

export interface UpstreamGate {
  /** A pass to send one request, when the caps allow; undefined when the wait bound does not. */
  enter(priority: Priority): Promise<Pass | undefined>;
  stats(): GateStats;
}

interface Waiter {
  resolve: (pass: Pass | undefined) => void;
  timer: NodeJS.Timeout;
}

export function createUpstreamGate(settings: GateSettings): UpstreamGate {
  const { maxConcurrency, maxRps, missWaitMs } = settings;
  const queues: Record<Priority, Waiter[]> = { miss: [], background: [] };
  const refused: Record<Priority, number> = { miss: 0, background: 0 };
  // Background refreshes that may wait: a few, briefly; more are dropped at once.
  const backgroundMax = maxConcurrency;
  let inFlight = 0;
  // When the requests of the last second ended (performance.now()), oldest first;
  // those in flight count as starting now.
  const ends: number[] = [];
  let wake: NodeJS.Timeout | undefined;

  /** Milliseconds until the rate allows a start (0: now; Infinity: when a request in flight ends). */
  function rateWait(at: number): number {
    if (maxRps === 0) return 0;
    while (ends.length > 0 && (ends[0] as number) <= at - WINDOW_MS) ends.shift();
    if (inFlight + ends.length < maxRps) return 0;
    return ends.length > 0 ? (ends[0] as number) + WINDOW_MS - at : Infinity;
  }

  function start(): Pass {
    inFlight++;
    let done = false;
    const end = (sent: boolean) => {
      if (done) return;
      done = true;
      inFlight--;
      if (sent && maxRps > 0) ends.push(performance.now());
      pump();
    };
    return { release: () => end(true), unused: () => end(false) };
  }

  /** Starts waiters while the caps allow, misses first; wakes again when the rate will. */
  function pump(): void {
    for (;;) {
      const queue = queues.miss.length > 0 ? queues.miss : queues.background;
      const next = queue[0];
      if (!next || inFlight >= maxConcurrency) return;
      const at = performance.now();
      const wait = rateWait(at);
      if (wait > 0) {
        // Infinity: the next start or end of a pending request pumps again.
        if (!wake && wait !== Infinity) {
          wake = setTimeout(() => {
            wake = undefined;
            pump();
          }, Math.ceil(wait));
        }
        return;
      }
      queue.shift();
      clearTimeout(next.timer);
      next.resolve(start());
    }
  }

  function enter(priority: Priority): Promise<Pass | undefined> {
    const at = performance.now();
    if (queues.miss.length === 0 && queues.background.length === 0 && inFlight < maxConcurrency && rateWait(at) === 0) {
      return Promise.resolve(start());
    }
    const queue = queues[priority];
    if (priority === 'background' && queue.length >= backgroundMax) {
      refused.background++;
      return Promise.resolve(undefined);
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          queue.splice(queue.indexOf(waiter), 1);
          refused[priority]++;
          resolve(undefined);
        }, missWaitMs),
      };
      queue.push(waiter);
      pump();
    });
  }

  return {
    enter,
    stats: () => ({ inFlight, waiting: { miss: queues.miss.length, background: queues.background.length }, refused: { ...refused } }),
  };
}
