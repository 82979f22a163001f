// Backoff, computed in one place for every retry in freshen (entry refreshes,
// mail deliveries, the database listener): on both sides of the pool boundary.

/**
 * The wait before the next try after `failures` consecutive failures of one
 * thing (an entry's refresh, a message's delivery): 1 s, doubling per failure,
 * plus up to 25% jitter so things that failed together do not retry together;
 * capped at maxMs, and never under 1 s.
 */
export function backoffMs(failures: number, maxMs: number, random: () => number = Math.random): number {
  const base = 1000 * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  return Math.max(1000, Math.min(maxMs, Math.round(base * (1 + 0.25 * random()))));
}
