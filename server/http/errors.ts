// The few error classes a request can end in, each with its code and status.
// One middleware (respond-error.ts) turns them into answers; 5xx never
// show internal words, only the fixed text here.
import { isDatabaseUnavailable } from '../../db/errors.js';

export class FreshenError extends Error {
  /** Words shown to the client; for 5xx always the fixed, friendly text. */
  readonly detail: string;
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.name = new.target.name;
    this.detail = detail;
  }
}

export class BadRequest extends FreshenError {
  constructor(detail: string) {
    super(400, 'bad-request', 'Bad request', detail);
  }
}

export class NotFound extends FreshenError {
  constructor(detail = 'There is no such entry.', headers: Record<string, string> = {}) {
    super(404, 'not-found', 'Not found', detail, headers);
  }
}

export class Unauthorized extends FreshenError {
  constructor() {
    super(401, 'unauthorized', 'Unauthorized', 'This needs an Authorization: Bearer token.', {
      'WWW-Authenticate': 'Basic realm="freshen", Bearer realm="freshen"',
    });
  }
}

export class Forbidden extends FreshenError {
  constructor() {
    super(403, 'forbidden', 'Forbidden', 'This token may not do that.');
  }
}

export class MethodNotAllowed extends FreshenError {
  constructor(allowed: string) {
    super(405, 'method-not-allowed', 'Method not allowed', `This resource allows ${allowed}.`, { Allow: allowed });
  }
}

export class UpstreamInvalid extends FreshenError {
  constructor(headers: Record<string, string> = {}) {
    super(
      502,
      'upstream-invalid',
      'This entry cannot be shown right now',
      'The source of this entry sent data we could not use. We are sorry; please try again later.',
      headers,
    );
  }
}

export class UpstreamUnavailable extends FreshenError {
  constructor(retryAfterSeconds: number, headers: Record<string, string> = {}) {
    super(
      503,
      'upstream-unavailable',
      'The source of this entry is unavailable',
      'We could not reach the source of this entry. Please try again shortly.',
      { ...headers, 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

export class UpstreamTimeout extends FreshenError {
  constructor(retryAfterSeconds: number, headers: Record<string, string> = {}) {
    super(
      504,
      'upstream-timeout',
      'The source of this entry is slow to answer',
      'The source of this entry did not answer in time. Please try again shortly.',
      { ...headers, 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

export class Overloaded extends FreshenError {
  constructor(retryAfterSeconds = 1, headers: Record<string, string> = {}) {
    super(503, 'overloaded', 'Busy', 'We are busy fetching other entries. Please try again in a moment.', {
      'Retry-After': String(retryAfterSeconds),
      ...headers,
    });
  }
}

export class ShuttingDown extends FreshenError {
  constructor() {
    super(503, 'shutting-down', 'Restarting', 'This server is restarting. Please try again in a moment.', {
      'Retry-After': '1',
    });
  }
}

export class DatabaseUnavailable extends FreshenError {
  constructor(headers: Record<string, string> = {}) {
    super(503, 'database-unavailable', 'Temporarily unavailable', 'This service cannot reach its database right now. Please try again shortly.', {
      ...headers,
      'Retry-After': '2',
    });
  }
}

export class InternalError extends FreshenError {
  constructor() {
    super(500, 'internal', 'Something went wrong', 'Something went wrong on our side. We are sorry; please try again later.');
  }
}

/**
 * The error a reader gets for a failed refresh with nothing to serve instead.
 * `code` is a refresh FailureCode, or 'invalid' for data that failed the schema.
 */
export function errorForFailure(code: string, retryAfterSeconds: number, headers: Record<string, string>): FreshenError {
  if (SLOW.has(code)) return new UpstreamTimeout(retryAfterSeconds, headers);
  if (UNAVAILABLE.has(code)) return new UpstreamUnavailable(retryAfterSeconds, headers);
  return new UpstreamInvalid(headers);
}

const SLOW = new Set(['timeout', 'pool-timeout']);
// store-error: the refresh fetched a record this service could not store (a database fault).
const UNAVAILABLE = new Set(['unreachable', 'unavailable', 'worker-error', 'store-error']);

/** The upstream answered, badly (invalid, not-json, too-large, bad-status, redirect), rather than slowly or not at all. */
export function answeredBadly(code: string): boolean {
  return !SLOW.has(code) && !UNAVAILABLE.has(code);
}

/** Coerce anything thrown into a FreshenError, once. */
export function toFreshenError(err: unknown): FreshenError {
  if (err instanceof FreshenError) return err;
  if (isDatabaseUnavailable(err)) return new DatabaseUnavailable();
  // Errors from Koa and its body/route helpers (http-errors) carry a status.
  const status = (err as { status?: unknown })?.status;
  const expose = (err as { expose?: unknown })?.expose === true;
  if (typeof status === 'number' && status >= 400 && status < 500 && expose) {
    if (status === 404) return new NotFound('There is nothing here.');
    return new FreshenError(status, 'bad-request', 'Bad request', (err as Error).message);
  }
  return new InternalError();
}
