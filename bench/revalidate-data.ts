// What the revalidation benchmark's upstream (revalidate-upstream.ts) and the
// section that drives it (revalidate-section.ts) agree on.

/** How often a changing entry gets a new version. */
export const CHANGE_MS = 1000;

/** One entry in ten changes, picked by a hash of its number so that records of every size are among them. */
export function changing(id: string): boolean {
  return (Math.imul(Number(id.slice(1)), 0x9e3779b1) >>> 0) % 10 === 0;
}

/** What the upstream sent under one label since its last reset. */
export interface Counts {
  requests: number;
  notModified: number;
  ok: number;
  /** Bytes of the answers' bodies. */
  bodyBytes: number;
  /** Bytes written to the connections: status lines, headers and bodies. */
  wireBytes: number;
  /** Milliseconds between two requests for the same entry. */
  gapsMs: number[];
}
