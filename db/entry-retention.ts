// Retention of the entries table: rows that hold no record are forgotten
// after a while; rows with a record stay (they are the copy).
import type { Db } from './knex.js';

/**
 * Retention: rows that hold no record — ids the upstream said it does not
 * have, or never answered for — untouched since `before` and not leased. A
 * read of such an id later is a miss like any other.
 */
export async function pruneRecordless(db: Db, before: number): Promise<number> {
  return db('entries')
    .whereIn('state', ['not-found', 'none'])
    .andWhere('updated_at', '<', before)
    .andWhere('lease_until', '<', before)
    .delete();
}
