// Retention of the entries table: rows that hold no record are forgotten
// after a while; rows with a record stay (they are the copy).
import { inBatches, PRUNE_BATCH } from './bulk.js';
import type { Db } from './knex.js';

/**
 * Retention: rows that hold no record — ids the upstream said it does not
 * have, or never answered for — untouched since `before` and not leased, in
 * batches through the partial index entries_recordless. A read of such an id
 * later is a miss like any other.
 */
export async function pruneRecordless(db: Db, before: number, batch = PRUNE_BATCH): Promise<number> {
  return inBatches(batch, (limit) =>
    db('entries')
      .whereIn(
        ['source', 'id'],
        db('entries')
          .select('source', 'id')
          // Written out, not bound: the planner matches the partial index's condition only as literals.
          .whereRaw("state in ('not-found', 'none')")
          .andWhere('updated_at', '<', before)
          .andWhere('lease_until', '<', before)
          .limit(limit),
      )
      .delete(),
  );
}
