// What an error nobody handled does to a running server, decided here once:
// an unhandled rejection or an uncaught exception is logged at error with the
// error, counted (freshen_unexpected_errors_total), and told to the admins
// (once per fingerprint within the cool-down) — and the server keeps serving.
// Node's default would end the process, dropping every request in flight and
// every refresh under way for one stray promise. What freshen keeps is in the
// database (rows, leases, the outbox), which a half-done step cannot corrupt:
// leases and claims expire by themselves. Installed by the command line only;
// a service started inside another program (the tests) leaves the process's
// handlers to it.
import type { Logger } from 'pino';
import type { Notifier } from '../notices/notifier.js';

export type UnexpectedKind = 'rejection' | 'exception';

export interface UnexpectedErrors {
  /** How many of each were caught since the start. */
  counts(): Record<UnexpectedKind, number>;
  /** Give the process's handlers back. */
  stop(): void;
}

export function watchUnexpected(deps: { logger: Logger; notifier?: Notifier }): UnexpectedErrors {
  const { logger, notifier } = deps;
  const counts: Record<UnexpectedKind, number> = { rejection: 0, exception: 0 };

  function caught(kind: UnexpectedKind, err: unknown): void {
    counts[kind]++;
    logger.error({ err, kind }, kind === 'rejection' ? 'unhandled rejection; serving on' : 'uncaught exception; serving on');
    // Never a second fault from here: the notifier logs what it cannot queue.
    Promise.resolve()
      .then(() => notifier?.serverError({ error: err }))
      .catch(() => undefined);
  }
  const onRejection = (reason: unknown) => caught('rejection', reason);
  const onException = (err: Error) => caught('exception', err);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);

  return {
    counts: () => ({ ...counts }),
    stop() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}
