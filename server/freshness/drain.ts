// The readers' side of a shutdown: once the server starts stopping, readers
// still waiting on a refresh after a grace period are let go (and answered),
// so that their connections are not cut at the shutdown bound.
export interface Drain {
  /** Start the grace period (once). */
  begin(graceMs: number): void;
  /** The promise's value, or 'drained' if the grace period ends first. */
  wait<T>(promise: Promise<T>): Promise<T | 'drained'>;
}

export function createDrain(): Drain {
  const waiting = new Set<() => void>();
  let begun = false;
  let over = false;
  return {
    begin(graceMs) {
      if (begun) return;
      begun = true;
      setTimeout(() => {
        over = true;
        for (const release of waiting) release();
      }, graceMs).unref();
    },
    wait(promise) {
      if (over) return Promise.resolve('drained' as const);
      return new Promise((resolve, reject) => {
        const release = () => resolve('drained');
        waiting.add(release);
        promise.then(resolve, reject).finally(() => waiting.delete(release));
      });
    },
  };
}
