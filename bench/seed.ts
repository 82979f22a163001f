// Stored entries for the benchmarks that read a copy larger than memory:
// written straight into the database (about 1 KB each), a transaction per
// 2,000, with no upstream and no refresh.
import { createHash } from 'node:crypto';
import type { Knex } from '../db/knex.js';
import { migrate } from '../db/migrate.js';

const FILLER = 'lorem ipsum dolor sit amet '.repeat(30);

/** The record stored for a seeded id. */
export function seededRecord(id: string): string {
  return JSON.stringify({ id, title: `Seeded ${id}`, body: FILLER, updatedAt: '2030-01-01T00:00:00Z', related: [] });
}

/** Migrates `db` and stores n entries `<prefix>0000000`, `<prefix>0000001` …; returns their ids. */
export async function seedEntries(db: Knex, n: number, prefix = 's'): Promise<string[]> {
  await migrate(db);
  const ids = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(7, '0')}`);
  const now = Date.now();
  for (let i = 0; i < n; i += 2000) {
    const rows = ids.slice(i, i + 2000).map((id) => {
      const record = seededRecord(id);
      return {
        id,
        record,
        hash: createHash('sha256').update(record).digest('base64url'),
        related: '[]',
        title: `Seeded ${id}`,
        fetched_at: now,
        state: 'ok',
        updated_at: now,
      };
    });
    await db.transaction(async (trx) => {
      // SQLite takes at most 999 bound values in one statement: 100 rows of 8.
      for (let j = 0; j < rows.length; j += 100) await trx('entries').insert(rows.slice(j, j + 100));
    });
  }
  return ids;
}
