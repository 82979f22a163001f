// The cache tags of each entry (entry_tags, migration 011), and the lookup a
// purge by tag makes: by the index, a bounded page at a time.
import type { Db } from './knex.js';

/** An entry's tags become these (none: its rows go). Run with the store that changed them. */
export async function replaceTags(db: Db, source: string, id: string, tags: readonly string[]): Promise<void> {
  await db('entry_tags').where({ source, id }).delete();
  if (tags.length > 0) await db('entry_tags').insert(tags.map((tag) => ({ tag, source, id })));
}

/**
 * Up to `limit` ids of `source` tagged `tag`, past `after` in id order (a
 * keyset page through the primary key), leaving out those also tagged with
 * one of `skip` (tags purged before this one in the same purge: each entry
 * is counted once).
 */
export async function taggedIds(db: Db, q: { source: string; tag: string; after: string; skip: readonly string[]; limit: number }): Promise<string[]> {
  const query = db('entry_tags as t')
    .select('t.id')
    .where({ 't.tag': q.tag, 't.source': q.source })
    .andWhere('t.id', '>', q.after)
    .orderBy('t.id')
    .limit(q.limit);
  if (q.skip.length > 0) {
    void query.whereNotExists(
      db('entry_tags as e').select(db.raw('1')).whereRaw('e.source = t.source and e.id = t.id').whereIn('e.tag', q.skip),
    );
  }
  return ((await query) as Array<{ id: string }>).map((r) => r.id);
}
