// Why a refresh failed: one union of codes for the whole service — what the
// updater reports, what the entries table keeps in `error_code`, what a reader
// is answered from — and the kind of each. The kind decides how a failure is
// answered (slow: 504, down: 503, a bad answer: 502); the mapping is a
// Record over the union, so a new code without a kind does not compile.

/** The upstream or the pool failed without a verdict on the data (what the updater reports). */
export type FetchFailureCode =
  | 'timeout' // upstream slower than UPSTREAM_TIMEOUT_MS
  | 'unreachable' // connection refused, reset, DNS…
  | 'unavailable' // upstream answered 5xx or 429
  | 'bad-status' // upstream answered another unexpected status
  | 'redirect' // redirects are not followed: they could lead to another host
  | 'too-large' // answer past UPSTREAM_MAX_BYTES
  | 'not-json' // answer is not JSON
  | PoolFailureCode;

/** What the pool itself reports for any task it could not finish. */
export type PoolFailureCode =
  | 'pool-timeout' // the task passed UPDATER_TASK_TIMEOUT_MS
  | 'worker-error'; // the worker itself failed

/** Every way a refresh can fail, as stored on the entry. */
export type FailureCode =
  | FetchFailureCode
  | 'invalid' // the record failed the schema (the content team is told)
  | 'store-error'; // the record was fetched but this service could not store it

export type FailureKind = 'slow' | 'down' | 'bad-answer';

const KIND: Record<FailureCode, FailureKind> = {
  timeout: 'slow',
  'pool-timeout': 'slow',
  unreachable: 'down',
  unavailable: 'down',
  'worker-error': 'down',
  'store-error': 'down',
  'bad-status': 'bad-answer',
  redirect: 'bad-answer',
  'too-large': 'bad-answer',
  'not-json': 'bad-answer',
  invalid: 'bad-answer',
};

export function failureKind(code: FailureCode): FailureKind {
  return KIND[code];
}

export function isFailureCode(value: string): value is FailureCode {
  return Object.hasOwn(KIND, value);
}

/**
 * A code read back from the database. One this version does not know (written
 * by a newer one) is taken as the worker's own failure: answered 503 with
 * Retry-After, never as the upstream's bad data.
 */
export function storedFailureCode(value: string | null): FailureCode | null {
  if (value === null) return null;
  return isFailureCode(value) ? value : 'worker-error';
}
