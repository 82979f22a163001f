// Dead letters, handled by an operator: a message that died after its retries
// (or on a refusal) is put back in the queue or dropped from /admin/outbox,
// each change one conditional statement on a dead row only, logged with the
// request that asked, and kept in a short list the status page shows.
import type { Logger } from 'pino';
import type { Db } from '../../db/knex.js';
import { deleteDead, requeueDead, type DeadLetterChange } from '../../db/outbox.js';
import type { Mailers } from '../../workers/mail/launcher.js';

export type { DeadLetterChange };

/** Operator actions kept for the status page (this process's, newest first). */
const KEPT = 20;

export interface DeadLetterAction {
  at: string;
  action: 'retry' | 'delete';
  id: number;
  /** The request that asked (X-Request-Id). */
  requestId: string;
}

export interface DeadLetters {
  retry(id: number, requestId: string): Promise<DeadLetterChange>;
  drop(id: number, requestId: string): Promise<DeadLetterChange>;
  actions(): DeadLetterAction[];
}

export function createDeadLetters(deps: { db: Db; mailers: Pick<Mailers, 'kick'>; logger: Logger; now: () => number }): DeadLetters {
  const { db, logger } = deps;
  const kept: DeadLetterAction[] = [];

  function done(action: DeadLetterAction['action'], id: number, requestId: string): void {
    kept.unshift({ at: new Date(deps.now()).toISOString(), action, id, requestId });
    kept.length = Math.min(kept.length, KEPT);
    logger.info({ id, requestId }, action === 'retry' ? 'dead message put back in the queue by an operator' : 'dead message deleted by an operator');
  }

  return {
    async retry(id, requestId) {
      const change = await requeueDead(db, id, deps.now());
      if (change === 'done') {
        done('retry', id, requestId);
        deps.mailers.kick();
      }
      return change;
    },
    async drop(id, requestId) {
      const change = await deleteDead(db, id);
      if (change === 'done') done('delete', id, requestId);
      return change;
    },
    actions: () => [...kept],
  };
}
