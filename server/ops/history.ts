// The last hour of this process, for the status page's plots: a sample each
// second (the last 5 minutes) and one per FOLD seconds (the last hour), in
// fixed-size rings, so memory stays the same however long it runs. Rates come
// from the counters' differences; upstream latency from the refreshes of the
// second; event-loop delay from a histogram reset at each sample.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Each series of a sample, by name. */
export type Sample = Record<string, number> & { at: number };

export interface Readings {
  /** Monotonic counts (reads, refreshes by outcome): plotted as rates. */
  counts(): Record<string, number>;
  /** Values as they are now (queue depth, busy share, outbox, breaker). */
  gauges(): Record<string, number>;
}

export interface History {
  /** Start sampling these (once the service's parts exist). */
  watch(readings: Readings): void;
  /** Refresh durations (ms) as they end: the sample's latency percentiles. */
  observeRefresh(ms: number): void;
  /** Oldest first. */
  lastMinutes(): readonly Sample[];
  lastHour(): readonly Sample[];
  stop(): void;
}

const FINE = 300; // 5 minutes of seconds
const FOLD = 12; // seconds per point of the hour
const COARSE = 300; // an hour of 12 s points
// Refresh durations kept per second at most (a burst past it is sampled evenly).
const DURATIONS_KEPT = 2000;

/** A fixed-size ring: the newest `size` items, oldest first. */
class Ring<T> {
  private readonly items: T[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(item: T): void {
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }
  list(): T[] {
    return this.items.length < this.size ? [...this.items] : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function createHistory(everyMs = 1000): History {
  const fine = new Ring<Sample>(FINE);
  const coarse = new Ring<Sample>(COARSE);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  let durations: number[] = [];
  let seen = 0;
  let readings: Readings | undefined;
  let last = { at: performance.now(), counts: {} as Record<string, number> };
  let folded: Sample[] = [];
  let timer: NodeJS.Timeout | undefined;

  function sample(): void {
    if (!readings) return;
    const at = performance.now();
    const counts = readings.counts();
    const seconds = Math.max(0.001, (at - last.at) / 1000);
    const s: Sample = { at: Date.now() };
    for (const [k, v] of Object.entries(counts)) s[k] = Math.max(0, (v - (last.counts[k] ?? 0)) / seconds);
    Object.assign(s, readings.gauges());
    const sorted = durations.toSorted((a, b) => a - b);
    s.latencyP50 = percentile(sorted, 50);
    s.latencyP99 = percentile(sorted, 99);
    // The histogram is in nanoseconds; an idle second reads as its resolution.
    s.eventLoopP99 = delay.count > 0 ? delay.percentile(99) / 1e6 : 0;
    delay.reset();
    durations = [];
    seen = 0;
    last = { at, counts };
    fine.push(s);
    folded.push(s);
    if (folded.length === FOLD) {
      coarse.push(fold(folded));
      folded = [];
    }
  }

  return {
    watch(r) {
      readings = r;
      last = { at: performance.now(), counts: r.counts() };
      delay.enable();
      timer = setInterval(sample, everyMs);
      timer.unref();
    },
    observeRefresh(ms) {
      seen++;
      if (durations.length < DURATIONS_KEPT) durations.push(ms);
      // Reservoir: each of the second's refreshes is kept with the same chance.
      else if (Math.random() < DURATIONS_KEPT / seen) durations[Math.floor(Math.random() * DURATIONS_KEPT)] = ms;
    },
    lastMinutes: () => fine.list(),
    lastHour: () => [...coarse.list(), ...(folded.length > 0 ? [fold(folded)] : [])],
    stop() {
      clearInterval(timer);
      delay.disable();
    },
  };
}

/** What the status page plots: the last 5 minutes and the last hour, of how many processes. */
export interface Plotted {
  lastMinutes: readonly Sample[];
  lastHour: readonly Sample[];
  processes: number;
}

// Of several processes of one node: their rates and queues add up; the
// database's outbox and the fleet's breaker are the same for each (the
// largest reading); busy shares average; latencies and delays take the worst.
const SAME_FOR_ALL = new Set(['outboxUnsent', 'outboxOldest', 'breakerOpen']);

/** Samples of several processes, aligned from the newest. */
function merge(lists: Array<readonly Sample[]>): Sample[] {
  const length = Math.max(0, ...lists.map((l) => l.length));
  return Array.from({ length }, (_, i) => {
    const at = lists.map((l) => l[l.length - length + i]).filter((s): s is Sample => s !== undefined);
    const out: Sample = { at: Math.max(...at.map((s) => s.at)) };
    for (const key of new Set(at.flatMap((s) => Object.keys(s)))) {
      if (key === 'at') continue;
      const values = at.map((s) => s[key] ?? 0);
      if (key === 'busy') out[key] = values.reduce((a, b) => a + b, 0) / values.length;
      else if (SAME_FOR_ALL.has(key) || /P99$|^latency/.test(key)) out[key] = Math.max(...values);
      else out[key] = values.reduce((a, b) => a + b, 0);
    }
    return out;
  });
}

/** Every process's history as one node's, newest samples aligned. */
export function mergeHistories(parts: readonly Plotted[]): Plotted {
  return {
    lastMinutes: merge(parts.map((p) => p.lastMinutes)),
    lastHour: merge(parts.map((p) => p.lastHour)),
    processes: parts.reduce((n, p) => n + p.processes, 0),
  };
}

/** Seconds folded into one point: rates and gauges averaged, the p99s and latency their worst. */
function fold(samples: Sample[]): Sample {
  const out: Sample = { at: (samples.at(-1) as Sample).at };
  for (const key of Object.keys(samples[0] as Sample)) {
    if (key === 'at') continue;
    const values = samples.map((s) => s[key] ?? 0);
    out[key] = /P99$|^latency/.test(key) ? Math.max(...values) : values.reduce((a, b) => a + b, 0) / values.length;
  }
  return out;
}
