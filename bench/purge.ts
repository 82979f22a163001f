// `npm run bench:purge` (a few minutes; `-- --quick` over 100k entries;
// `-- --engine=sqlite` one engine): purges by tag over a copy of a million
// entries. Per engine (SQLite, a throwaway Postgres): entries seeded by the
// database (bench/seed.ts), each given three tags — `line-NN` (1 % of the
// entries), `block-N` (10 %) and `all` — then a freshen process asked to
// purge by each, softly, over HTTP, as an operator would: the time to the
// answer, the entries it touched, its batches; then a hard purge of one line.
// Also the plan Postgres chooses for a tag's page (the index, not a scan).
// Prints a table and writes bench/results/purge-latest.{json,md}.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_POOL, openDatabase, rawRows, type DatabaseConfig, type Knex } from '../db/knex.js';
import { startPostgresServer } from '../test/support/postgres-server.js';
import { startDemo, startFreshen, TOKEN } from './http-sections.js';
import { ROOT, round } from './lib.js';
import { seedEntries } from './seed.js';

interface PurgeFigure {
  purge: string;
  matched: number;
  batches: number;
  /** Time to the answer, seen by the client. */
  seconds: number;
  entriesPerSecond: number;
}

interface EngineFigures {
  entries: number;
  seedSeconds: number;
  purges: PurgeFigure[];
  /** Postgres: the plan of one page of a tag's ids. */
  plan?: string;
}

/** Three tags per entry, by the last digits of its seeded id (`s0000042`: line-42, block-2, all): 100 lines, 10 blocks, and all. */
async function tagEverything(db: Knex): Promise<void> {
  for (const tag of ["'line-' || substr(id, 7, 2)", "'block-' || substr(id, 8, 1)", "'all'"]) {
    await db.raw(`insert into entry_tags (tag, source, id) select ${tag}, 'entries', id from entries`);
  }
  await db.raw("update entries set tags = 'all block-' || substr(id, 8, 1) || ' line-' || substr(id, 7, 2)");
  await db.raw('analyze');
}

async function purge(url: string, label: string, body: unknown): Promise<PurgeFigure> {
  const started = performance.now();
  const res = await fetch(`${url}/admin/purge`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as { matched: number; batches: number; detail?: string };
  if (res.status !== 200) throw new Error(`purge ${label}: ${res.status} ${answer.detail ?? ''}`);
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`bench: purge ${label}: ${answer.matched} entries in ${round(seconds, 2)} s\n`);
  return { purge: label, matched: answer.matched, batches: answer.batches, seconds: round(seconds, 2), entriesPerSecond: Math.round(answer.matched / seconds) };
}

async function measure(upstreamUrl: string, database: DatabaseConfig, n: number): Promise<EngineFigures> {
  // Seeding and tagging a million rows take longer than a request's statement may.
  const db = openDatabase(database, { ...DEFAULT_POOL, statementTimeoutMs: 0 });
  const t0 = performance.now();
  let plan: string | undefined;
  try {
    await seedEntries(db, n, 's');
    await tagEverything(db);
    if (database.client === 'postgres') {
      const rows = rawRows<{ 'QUERY PLAN': string }>(
        db,
        await db.raw("explain select id from entry_tags where tag = 'line-42' and source = 'entries' and id > '' order by id limit 1000"),
      );
      plan = rows.map((r) => r['QUERY PLAN'].trim()).join(' / ');
    }
  } finally {
    await db.destroy();
  }
  const seedSeconds = round((performance.now() - t0) / 1000, 1);
  const freshen = await startFreshen(upstreamUrl, 'thread', {
    DATABASE_URL: database.client === 'sqlite' ? `sqlite:${database.filename}` : database.url,
    PUBLISH_REPAIR_SECONDS: '0',
  });
  try {
    const purges = [
      await purge(freshen.ready, 'tag line-42 (1 %)', { tags: ['line-42'] }),
      await purge(freshen.ready, 'tag block-3 (10 %)', { tags: ['block-3'] }),
      // Every entry of line-42 is in block-2 too: each is counted (and touched) once.
      await purge(freshen.ready, 'tags line-42, block-2 (overlapping)', { tags: ['line-42', 'block-2'] }),
      await purge(freshen.ready, '1,000 ids', { ids: Array.from({ length: 1000 }, (_, i) => `s${String(i * 97).padStart(7, '0')}`) }),
      await purge(freshen.ready, 'tag all (100 %)', { tags: ['all'] }),
      await purge(freshen.ready, 'tag line-07, hard', { tags: ['line-07'], hard: true }),
    ];
    return { entries: n, seedSeconds, purges, ...(plan === undefined ? {} : { plan }) };
  } finally {
    await freshen.stop();
  }
}

function markdown(result: Record<string, EngineFigures>): string {
  const lines = ['| engine | entries | purge | matched | batches | seconds | entries/s |', '| --- | ---: | --- | ---: | ---: | ---: | ---: |'];
  for (const [engine, f] of Object.entries(result)) {
    for (const p of f.purges) lines.push(`| ${engine} | ${f.entries.toLocaleString('en')} | ${p.purge} | ${p.matched.toLocaleString('en')} | ${p.batches} | ${p.seconds} | ${p.entriesPerSecond.toLocaleString('en')} |`);
  }
  for (const [engine, f] of Object.entries(result)) if (f.plan) lines.push('', `${engine}, one page of a tag: \`${f.plan}\``);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const engine = process.argv.find((a) => a.startsWith('--engine='))?.slice('--engine='.length);
  if (engine !== undefined && engine !== 'sqlite' && engine !== 'postgres') throw new Error(`--engine=${engine}: sqlite or postgres`);
  const n = quick ? 100_000 : 1_000_000;
  const started = performance.now();
  const demo = await startDemo(0);
  const result: Record<string, EngineFigures> = {};
  try {
    if (engine !== 'postgres') {
      const dir = mkdtempSync(join(tmpdir(), 'freshen-purge-'));
      const filename = join(dir, 'db.sqlite');
      try {
        result.sqlite = await measure(demo.ready, { client: 'sqlite', url: `sqlite:${filename}`, filename }, n);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    if (engine !== 'sqlite') {
      const pg = await startPostgresServer();
      try {
        result.postgres = await measure(demo.ready, { client: 'postgres', url: pg.url }, n);
      } finally {
        pg.destroy();
      }
    }
  } finally {
    await demo.stop();
  }
  const seconds = Math.round((performance.now() - started) / 1000);
  const table = markdown(result);
  process.stdout.write(`\n${table}\n\n${quick ? 'quick' : 'full'} run in ${seconds} s\n`);
  if (engine) return;
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'purge-latest.json'), `${JSON.stringify({ mode: quick ? 'quick' : 'full', date: new Date().toISOString(), seconds, ...result }, null, 2)}\n`);
  writeFileSync(join(dir, 'purge-latest.md'), `# purge (${quick ? 'quick' : 'full'} run, ${seconds} s)\n\n${table}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
