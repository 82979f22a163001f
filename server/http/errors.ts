// The few error classes a request can end in, each with its code and status.
// One middleware (respond-error.ts) turns them into answers; 5xx never
// show internal words, only the fixed text here.
import { isDatabaseUnavailable } from '../../db/errors.js';
import { failureKind, type FailureKind } from '../../shared/failures.js';
import type { CacheOutcome, Refusal } from '../freshness/freshness.js';

export class FreshenError extends Error {
  /** Words shown to the client; for 5xx always the fixed, friendly text. */
  readonly detail: string;
  /** How the freshness check came to refuse (its Cache-Status), when it did. */
  cache: CacheOutcome | undefined;
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
  constructor(detail = 'There is no such entry.') {
    super(404, 'not-found', 'Not found', detail);
  }
}

export class Unauthorized extends FreshenError {
  constructor(detail = 'This needs an Authorization: Bearer token.', challenge = 'Basic realm="freshen", Bearer realm="freshen"') {
    super(401, 'unauthorized', 'Unauthorized', detail, { 'WWW-Authenticate': challenge });
  }
}

export class Forbidden extends FreshenError {
  constructor() {
    super(403, 'forbidden', 'Forbidden', 'This token may not do that.');
  }
}

export class Conflict extends FreshenError {
  constructor(detail: string) {
    super(409, 'conflict', 'Conflict', detail);
  }
}

export class PayloadTooLarge extends FreshenError {
  constructor(limitBytes: number) {
    super(413, 'payload-too-large', 'Payload too large', `The body may be at most ${limitBytes} bytes.`);
  }
}

export class UnsupportedMediaType extends FreshenError {
  constructor(expected: string) {
    super(415, 'unsupported-media-type', 'Unsupported media type', `The body must be ${expected}.`);
  }
}

export class MethodNotAllowed extends FreshenError {
  constructor(allowed: string) {
    super(405, 'method-not-allowed', 'Method not allowed', `This resource allows ${allowed}.`, { Allow: allowed });
  }
}

export class UpstreamInvalid extends FreshenError {
  constructor() {
    super(
      502,
      'upstream-invalid',
      'This entry cannot be shown right now',
      'The source of this entry sent data we could not use. We are sorry; please try again later.',
    );
  }
}

export class UpstreamUnavailable extends FreshenError {
  constructor(retryAfterSeconds: number) {
    super(
      503,
      'upstream-unavailable',
      'The source of this entry is unavailable',
      'We could not reach the source of this entry. Please try again shortly.',
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

export class UpstreamTimeout extends FreshenError {
  constructor(retryAfterSeconds: number) {
    super(
      504,
      'upstream-timeout',
      'The source of this entry is slow to answer',
      'The source of this entry did not answer in time. Please try again shortly.',
      { 'Retry-After': String(retryAfterSeconds) },
    );
  }
}

export class Overloaded extends FreshenError {
  constructor(retryAfterSeconds = 1) {
    super(503, 'overloaded', 'Busy', 'We are busy fetching other entries. Please try again in a moment.', {
      'Retry-After': String(retryAfterSeconds),
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
  constructor() {
    super(503, 'database-unavailable', 'Temporarily unavailable', 'This service cannot reach its database right now. Please try again shortly.', {
      'Retry-After': '2',
    });
  }
}

export class InternalError extends FreshenError {
  constructor() {
    super(500, 'internal', 'Something went wrong', 'Something went wrong on our side. We are sorry; please try again later.');
  }
}

// A failed refresh with nothing to serve, by the kind of its failure
// (shared/failures.ts): every code has a kind, every kind a problem.
const FAILURE_PROBLEM: Record<FailureKind, (retryAfterSeconds: number) => FreshenError> = {
  slow: (retryAfter) => new UpstreamTimeout(retryAfter),
  down: (retryAfter) => new UpstreamUnavailable(retryAfter),
  'bad-answer': () => new UpstreamInvalid(),
};

/** The problem a refusal of the freshness check is answered with, carrying how it came about. */
export function problemFor(refusal: Refusal): FreshenError {
  const error = problemOf(refusal);
  if (refusal.refused !== 'shutting-down') error.cache = refusal.cache;
  return error;
}

function problemOf(refusal: Refusal): FreshenError {
  switch (refusal.refused) {
    case 'not-found':
      return new NotFound('There is no such entry.');
    case 'failed':
      return FAILURE_PROBLEM[failureKind(refusal.code)](refusal.retryAfterSeconds);
    case 'overloaded':
      return new Overloaded(1);
    case 'waited-too-long':
      return new UpstreamTimeout(1);
    case 'database-unavailable':
      return new DatabaseUnavailable();
    case 'shutting-down':
      return new ShuttingDown();
    default:
      return unmapped(refusal);
  }
}

/** A refusal without a problem does not compile. */
function unmapped(refusal: never): never {
  throw new Error(`no problem for the refusal ${JSON.stringify(refusal)}`);
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
