// The webhook calls already taken (webhook_deliveries, migration 011), by
// their signature, kept until their timestamp is too old to be taken anyway:
// a call replayed to any node of a fleet finds its signature here.
import { inBatches, PRUNE_BATCH } from './bulk.js';
import { rawRows, type Db } from './knex.js';

/** Records a call's signature; false when it was taken before (a replay). */
export async function takeDelivery(db: Db, source: string, signature: string, expiresAt: number): Promise<boolean> {
  const rows = rawRows<{ signature: string }>(
    db,
    await db.raw('insert into webhook_deliveries (source, signature, expires_at) values (?, ?, ?) on conflict do nothing returning signature', [source, signature, expiresAt]),
  );
  return rows.length === 1;
}

/** Signatures whose calls would be refused as too old anyway go. */
export async function pruneDeliveries(db: Db, now: number): Promise<number> {
  return inBatches(PRUNE_BATCH, (limit) =>
    db('webhook_deliveries')
      .whereIn(['source', 'signature'], db('webhook_deliveries').select('source', 'signature').where('expires_at', '<', now).limit(limit))
      .delete(),
  );
}

/** A taken call whose work failed: its signature may be sent again. */
export async function forgetDelivery(db: Db, source: string, signature: string): Promise<void> {
  await db('webhook_deliveries').where({ source, signature }).delete();
}
