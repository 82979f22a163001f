// Migrations over a copy that holds rows: entries stored before sources
// existed (migration 012 keys entries by source and id) belong to the source
// the env vars describe, `entries`, keep their indexes, and are served from
// the copy by a service started on the migrated database, as before. And
// nodes started together on a fresh database all migrate it.
import { expect } from 'chai';
import { openDatabase, rawRows, type Knex } from '../db/knex.js';
import { migrate, migrateDatabase } from '../db/migrate.js';
import { loadConfig } from '../server/config/config.js';
import { freshDatabase, type TestDatabase } from './support/database.js';
import { startTestService } from './support/service.js';
import { startTestUpstream, type TestUpstream } from './support/upstream.js';

describe('migrating a copy that holds entries', function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let db: Knex;
  let upstream: TestUpstream;

  before(async () => {
    database = await freshDatabase();
    db = openDatabase(loadConfig({ DATABASE_URL: database.url }).database);
    upstream = await startTestUpstream();
  });
  after(async () => {
    await db?.destroy();
    await upstream?.close();
    await database?.drop();
  });

  it('keeps the entries stored before sources as the `entries` source’s, with their indexes, and serves them from the copy', async () => {
    await migrate(db, '011-tags-and-purges');
    // A copy migrated by 011 before its entry_purges had a source column.
    if (database.client === 'postgres') await db.raw('alter table entry_purges drop column source');
    const now = Date.now();
    const stored = (id: string) => ({
      id,
      record: JSON.stringify({ id, title: `stored ${id}` }),
      hash: `hash-${id}`,
      related: '[]',
      fetched_at: now,
      state: 'ok',
      updated_at: now,
    });
    await db('entries').insert([stored('old1'), stored('old2')]);
    await db('entries').insert({ id: 'gone', state: 'not-found', fetched_at: now, updated_at: now });

    await migrate(db);
    const rows = (await db('entries').select('source', 'id').orderBy('id')) as Array<{ source: string; id: string }>;
    expect(rows).to.deep.equal([
      { source: 'entries', id: 'gone' },
      { source: 'entries', id: 'old1' },
      { source: 'entries', id: 'old2' },
    ]);
    // Two sources may hold the same id; one source may not hold it twice.
    await db('entries').insert({ ...stored('old1'), source: 'products' });
    let refused: unknown;
    await db('entries').insert({ ...stored('old1'), source: 'products' }).catch((err: unknown) => (refused = err));
    expect(String(refused)).to.match(/unique|duplicate/i);
    await db('entries').where({ source: 'products' }).delete();

    const indexes = database.client === 'postgres'
      ? rawRows<{ name: string }>(db, await db.raw("select indexname as name from pg_indexes where tablename = 'entries'"))
      : rawRows<{ name: string }>(db, await db.raw("select name from sqlite_master where type = 'index' and tbl_name = 'entries'"));
    expect(indexes.map((i) => i.name)).to.include.members(['entries_source_shard_key', 'entries_errors', 'entries_recordless']);
    if (database.client === 'postgres') {
      const columns = rawRows<{ name: string }>(db, await db.raw("select column_name as name from information_schema.columns where table_name = 'entry_purges'"));
      expect(columns.map((c) => c.name)).to.include('source');
    }

    const service = await startTestService(upstream.url, { database, env: { ENTRY_TTL_SECONDS: '300' } });
    try {
      const res = await service.get('/entries/old1');
      expect(res.status).to.equal(200);
      expect(res.headers.get('cache-status')).to.match(/^freshen; hit/);
      expect(((await res.json()) as { data: { title: string } }).data.title).to.equal('stored old1');
      expect((await service.get('/entries/gone')).status).to.equal(404);
      expect(upstream.total()).to.equal(0);
    } finally {
      await service.stop();
    }
  });

  it('lets nodes started together on a fresh database migrate it: none fails on the migrations’ own tables', async () => {
    const fresh = await freshDatabase();
    try {
      const config = loadConfig({ DATABASE_URL: fresh.url }).database;
      const started = await Promise.allSettled(Array.from({ length: 4 }, () => migrateDatabase(config)));
      expect(started.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).to.deep.equal([]);
      const check = openDatabase(config);
      try {
        const done = (await check('freshen_migrations').select('name')) as Array<{ name: string }>;
        expect(done.map((m) => m.name)).to.include('012-entries-by-source');
        expect(new Set(done.map((m) => m.name)).size).to.equal(done.length);
      } finally {
        await check.destroy();
      }
    } finally {
      await fresh.drop();
    }
  });
});
