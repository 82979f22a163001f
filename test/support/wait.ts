// Waiting on a condition with a deadline: the only way tests synchronise.
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitFor<T>(
  probe: () => T | Promise<T>,
  what: string,
  timeoutMs = 5000,
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last as NonNullable<T>;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A clock the test moves by hand, for TTLs, backoff and leases. */
export function manualClock(start = Date.UTC(2030, 0, 1)) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}
