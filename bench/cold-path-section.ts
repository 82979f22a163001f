// coldPath: hits that must come from the SQL copy. Reads spread uniformly
// over far more stored entries than the memory tier holds (a tenth of them),
// against memory hits on the same server, in interleaved rounds (cold, hot,
// cold, hot …, each cold round over the hot one beside it); on SQLite and on
// a throwaway Postgres. Also what one entry takes on disk and in memory.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type DatabaseConfig, type Knex } from '../db/knex.js';
import { answerBody } from '../shared/answer-body.js';
import { startPostgresServer } from '../test/support/postgres-server.js';
import { prefill, startFreshen, TOKEN, type Plan } from './http-sections.js';
import { median, pairwise, round } from './lib.js';
import { throughput } from './wrk.js';
import { seededRecord, seedEntries } from './seed.js';

/** Memory hits are measured over this many ids, which the tier holds many times over. */
const HOT = 500;

interface Figures {
  entries: number;
  ratio: number;
  ratioSpread: { min: number; max: number };
  cold: { rps: number; p50: number; p99: number };
  hot: { rps: number; p50: number; p99: number };
  memoryTierBytes: number;
  bytesOnDiskPerEntry: number;
  bytesInMemoryPerEntry: number;
  seedSeconds: number;
}

/** Entries seeded once for one or more measurements on the same database. */
interface Seeded {
  ids: string[];
  diskBytes: number;
  seedSeconds: number;
}

async function seed(database: DatabaseConfig, n: number, onDisk: (db: Knex) => Promise<number>): Promise<Seeded> {
  const db = openDatabase(database);
  const t0 = performance.now();
  try {
    const ids = await seedEntries(db, n, 'c');
    return { ids, diskBytes: await onDisk(db), seedSeconds: (performance.now() - t0) / 1000 };
  } finally {
    await db.destroy();
  }
}

/** `env`: settings of this measurement (Postgres's named statements). */
async function measure(plan: Plan, upstreamUrl: string, database: DatabaseConfig, n: number, seeded: Seeded, env: Record<string, string> = {}): Promise<Figures> {
  const { ids, diskBytes, seedSeconds } = seeded;
  // A tenth of the data fits the memory tier (an entry costs its answer body and a little more).
  const bodyBytes = answerBody(ids[0] as string, seededRecord(ids[0] as string), Date.now()).length;
  const memoryTierBytes = Math.round((n * (bodyBytes + 100)) / 10);
  const freshen = await startFreshen(upstreamUrl, 'thread', {
    DATABASE_URL: database.client === 'sqlite' ? `sqlite:${database.filename}` : database.url,
    MEMORY_TIER_MAX_BYTES: String(memoryTierBytes),
    ...env,
  });
  try {
    const hotIds = ids.slice(0, HOT);
    const coldPaths = ids.map((id) => `/entries/${id}`);
    const hotPaths = hotIds.map((id) => `/entries/${id}`);
    // Warm-up: JIT, connections, the file's pages, and the tier filled by spread reads.
    await throughput(freshen.ready, coldPaths, { connections: 32, seconds: plan.quick ? 1 : 2 });
    const cold: Array<{ rps: number; p50: number; p99: number }> = [];
    const hot: Array<{ rps: number; p50: number; p99: number }> = [];
    // Rounds of each side in turn, for a spread; fewer and shorter in the quick
    // run, which must end within 2 minutes (autocannon runs whole seconds).
    const seconds = plan.quick ? 1 : plan.seconds;
    for (let rep = 0; rep < (plan.quick ? 2 : Math.max(3, plan.reps)); rep++) {
      cold.push(await throughput(freshen.ready, coldPaths, { connections: 32, seconds }));
      // The spread reads evicted the hot ids: read them into memory again first.
      await prefill(freshen.ready, hotIds);
      hot.push(await throughput(freshen.ready, hotPaths, { connections: 32, seconds }));
    }
    const admin = (await (await fetch(`${freshen.ready}/admin`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'application/json' } })).json()) as {
      memoryEntries: number;
    };
    const ratio = pairwise(cold.map((r) => r.rps), hot.map((r) => r.rps));
    const med = (runs: typeof cold) => ({
      rps: Math.round(median(runs.map((r) => r.rps))),
      p50: round(median(runs.map((r) => r.p50))),
      p99: round(median(runs.map((r) => r.p99))),
    });
    return {
      entries: n,
      ratio: ratio.median,
      ratioSpread: { min: ratio.min, max: ratio.max },
      cold: med(cold),
      hot: med(hot),
      memoryTierBytes,
      bytesOnDiskPerEntry: Math.round(diskBytes / n),
      bytesInMemoryPerEntry: Math.round(memoryTierBytes / Math.max(1, admin.memoryEntries)),
      seedSeconds: round(seedSeconds, 1),
    };
  } finally {
    await freshen.stop();
  }
}

export interface ColdPath {
  sqlite: Figures;
  /** Postgres reached directly, with what a direct connection would use: DATABASE_NAMED_STATEMENTS=on. */
  postgres: Figures | null;
  /** The same with the default, safe behind a pooler in transaction mode (statements unnamed). */
  postgresPoolerSafe?: Figures;
  postgresNote?: string;
}

export async function coldPath(plan: Plan, upstreamUrl: string): Promise<ColdPath> {
  const n = plan.quick ? 100_000 : 1_000_000;
  const dir = mkdtempSync(join(tmpdir(), 'freshen-cold-'));
  let sqlite: Figures;
  try {
    const filename = join(dir, 'db.sqlite');
    const database: DatabaseConfig = { client: 'sqlite', url: `sqlite:${filename}`, filename };
    const seeded = await seed(database, n, async (db) => {
      await db.raw('PRAGMA wal_checkpoint(TRUNCATE)');
      return statSync(filename).size;
    });
    sqlite = await measure(plan, upstreamUrl, database, n, seeded);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let pg;
  try {
    pg = await startPostgresServer();
  } catch (err) {
    return { sqlite, postgres: null, postgresNote: `no Postgres: ${(err as Error).message}` };
  }
  try {
    const database: DatabaseConfig = { client: 'postgres', url: pg.url };
    const seeded = await seed(database, n, async (db) => {
      const row = (await db.raw(`select pg_total_relation_size('entries') as n`)) as { rows: Array<{ n: number | string }> };
      return Number(row.rows[0]?.n ?? 0);
    });
    const postgres = await measure(plan, upstreamUrl, database, n, seeded, { DATABASE_NAMED_STATEMENTS: 'on' });
    const postgresPoolerSafe = await measure(plan, upstreamUrl, database, n, seeded);
    return { sqlite, postgres, postgresPoolerSafe };
  } finally {
    pg.destroy();
  }
}
