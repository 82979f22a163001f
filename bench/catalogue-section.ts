// catalogue: freshen over a copy of millions of entries, where work that
// grows with the table would show. Per engine (SQLite, a throwaway Postgres)
// and per size (10k, then 1M — 100k in the quick run): entries seeded by the
// database, freshen started on them with an empty publish directory (so the
// whole index is built while it serves), hot hits under wrk throughout, and
// new entries fetched one by one meanwhile, each against the upstream's own
// time for it. Also: event-loop delay, the server's anonymous memory
// (RssAnon, sampled), the largest file published, /admin and /metrics times.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type DatabaseConfig } from '../db/knex.js';
import { demoIds, invalidDemoIds } from '../demo/data.js';
import { startPostgresServer } from '../test/support/postgres-server.js';
import { hitIds, prefill, startFreshen, TOKEN } from './http-sections.js';
import { median, percentile, round } from './lib.js';
import { seedEntries } from './seed.js';
import { wrk } from './wrk.js';

export interface CatalogueFigures {
  entries: number;
  seedSeconds: number;
  /** A new entry's answer time less the upstream's own time for it, ms. */
  newEntryOverMs: { p50: number; p99: number; max: number; count: number };
  upstreamMs: { p50: number; max: number };
  eventLoopDelayMs: { p99: number; max: number };
  rssAnonPeakMiB: number;
  largestFileBytes: number;
  largestFile: string;
  adminMs: { p50: number; max: number };
  metricsMs: { p50: number; max: number };
  hitsPerSecond: number;
  indexBuilt: boolean;
}

export interface Catalogue {
  sqlite: Record<string, CatalogueFigures>;
  postgres: Record<string, CatalogueFigures> | null;
  postgresNote?: string;
}

const HOT = 50;
// New entries fetched in a run: 100 make the p99 the second slowest, not the slowest.
const NEW_ENTRIES = { small: 40, large: 100 };
const RUN_SECONDS = { small: 12, large: 30 };

function rssAnonKiB(pid: number): number {
  const line = /^RssAnon:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(line?.[1] ?? 0);
}

/** The largest file under `dir`, walked with bounded depth (pages, index/, sitemaps/). */
function largestFile(dir: string): { path: string; bytes: number } {
  let best = { path: '', bytes: 0 };
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const bytes = statSync(path).size;
    if (bytes > best.bytes) best = { path: path.slice(dir.length + 1), bytes };
  }
  return best;
}

async function timed(url: string, headers: Record<string, string> = {}): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  return performance.now() - t0;
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);

async function measure(upstreamUrl: string, database: DatabaseConfig, n: number, size: 'small' | 'large'): Promise<CatalogueFigures> {
  const seconds = RUN_SECONDS[size];
  const newEntries = NEW_ENTRIES[size];
  const db = openDatabase(database);
  const t0 = performance.now();
  try {
    await seedEntries(db, n, 's');
  } finally {
    await db.destroy();
  }
  const seedSeconds = round((performance.now() - t0) / 1000, 1);
  const freshen = await startFreshen(upstreamUrl, 'thread', {
    DATABASE_URL: database.client === 'sqlite' ? `sqlite:${database.filename}` : database.url,
    // The index is built from scratch (an empty directory) while this runs; the
    // page sweep, which would write a page for every seeded entry, is off.
    PUBLISH_INDEX_SECONDS: '5',
    PUBLISH_REPAIR_SECONDS: '0',
    LOG_LEVEL: 'info',
  });
  const pid = freshen.child.pid as number;
  let peakKiB = rssAnonKiB(pid);
  const sampler = setInterval(() => (peakKiB = Math.max(peakKiB, rssAnonKiB(pid))), 100);
  try {
    const hot = hitIds().slice(0, HOT);
    await prefill(freshen.ready, hot);
    const invalid = new Set(invalidDemoIds());
    const fresh = demoIds().filter((id) => !invalid.has(id) && !hot.includes(id)).slice(0, newEntries);
    const hits = wrk(freshen.ready, hot.map((id) => `/entries/${id}`), { connections: 32, seconds });
    const over: number[] = [];
    const upstream: number[] = [];
    const gap = (seconds * 1000 * 0.8) / newEntries;
    for (const id of fresh) {
      const start = performance.now();
      const own = await timed(upstreamUrl.replace('{id}', id));
      const answered = await timed(`${freshen.ready}/entries/${id}`);
      upstream.push(own);
      over.push(answered - own);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, gap - (performance.now() - start))));
    }
    const hitsResult = await hits;
    // The first scrape since the prefill's: prom-client's event-loop histogram starts afresh at each.
    const t = performance.now();
    const metricsText = await (await fetch(`${freshen.ready}/metrics`)).text();
    const metricsMs = [performance.now() - t];
    const admin: number[] = [];
    for (let i = 0; i < 5; i++) {
      admin.push(await timed(`${freshen.ready}/admin`, { authorization: `Bearer ${TOKEN}`, accept: 'application/json' }));
      metricsMs.push(await timed(`${freshen.ready}/metrics`));
    }
    const largest = largestFile(join(freshen.dir, 'pages'));
    const log = freshen.output();
    return {
      entries: n,
      seedSeconds,
      newEntryOverMs: { p50: round(median(over)), p99: round(percentile(over, 99)), max: round(Math.max(...over)), count: over.length },
      upstreamMs: { p50: round(median(upstream)), max: round(Math.max(...upstream)) },
      // As the server reports it (nodejs_eventloop_lag_*): sampled every 10 ms, which the figures include.
      eventLoopDelayMs: {
        p99: round(metric(metricsText, 'nodejs_eventloop_lag_p99_seconds') * 1000),
        max: round(metric(metricsText, 'nodejs_eventloop_lag_max_seconds') * 1000),
      },
      rssAnonPeakMiB: round(peakKiB / 1024, 1),
      largestFileBytes: largest.bytes,
      largestFile: largest.path,
      adminMs: { p50: round(median(admin)), max: round(Math.max(...admin)) },
      metricsMs: { p50: round(median(metricsMs)), max: round(Math.max(...metricsMs)) },
      hitsPerSecond: Math.round(hitsResult.rps),
      indexBuilt: log.includes('page index built'),
    };
  } finally {
    clearInterval(sampler);
    await freshen.stop();
  }
}

async function onEngine(upstreamUrl: string, sizes: number[], database: () => Promise<{ config: DatabaseConfig; drop(): Promise<void> }>): Promise<Record<string, CatalogueFigures>> {
  const out: Record<string, CatalogueFigures> = {};
  for (const [i, n] of sizes.entries()) {
    const { config, drop } = await database();
    try {
      process.stderr.write(`bench: catalogue of ${n.toLocaleString('en')} entries on ${config.client} …\n`);
      out[String(n)] = await measure(upstreamUrl, config, n, i === 0 ? 'small' : 'large');
    } finally {
      await drop();
    }
  }
  return out;
}

/** `engines`: both by default; one while working on it. */
export async function catalogue(upstreamUrl: string, quick: boolean, engines: ReadonlyArray<'sqlite' | 'postgres'> = ['sqlite', 'postgres']): Promise<Catalogue> {
  const sizes = [10_000, quick ? 100_000 : 1_000_000];
  const sqlite = !engines.includes('sqlite') ? {} : await onEngine(upstreamUrl, sizes, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'freshen-catalogue-'));
    const filename = join(dir, 'db.sqlite');
    return { config: { client: 'sqlite', url: `sqlite:${filename}`, filename }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  });
  if (!engines.includes('postgres')) return { sqlite, postgres: null, postgresNote: 'Postgres not asked for (--engine=sqlite)' };
  let pg;
  try {
    pg = await startPostgresServer();
  } catch (err) {
    return { sqlite, postgres: null, postgresNote: `no Postgres: ${(err as Error).message}` };
  }
  const server = pg;
  try {
    let k = 0;
    const postgres = await onEngine(upstreamUrl, sizes, async () => {
      const name = `catalogue_${k++}`;
      const admin = openDatabase({ client: 'postgres', url: server.url });
      await admin.raw(`create database ${name}`);
      await admin.destroy();
      const url = new URL(server.url);
      url.pathname = `/${name}`;
      return {
        config: { client: 'postgres', url: url.toString() },
        drop: async () => {
          const again = openDatabase({ client: 'postgres', url: server.url });
          await again.raw(`drop database if exists ${name} with (force)`);
          await again.destroy();
        },
      };
    });
    return { sqlite, postgres };
  } finally {
    server.destroy();
  }
}

/** The section's table. */
export function catalogueMarkdown(result: Catalogue): string {
  const rows: string[] = [];
  for (const [engine, sizes] of [['SQLite', result.sqlite], ['Postgres', result.postgres]] as const) {
    for (const [n, f] of Object.entries(sizes ?? {})) {
      rows.push(
        `| ${engine} | ${Number(n).toLocaleString('en')} | ${f.seedSeconds} | ${f.newEntryOverMs.p50} / ${f.newEntryOverMs.p99} / ${f.newEntryOverMs.max} | ${f.upstreamMs.p50} | ${f.eventLoopDelayMs.p99} / ${f.eventLoopDelayMs.max} | ${f.rssAnonPeakMiB} | ${(f.largestFileBytes / 1024).toFixed(0)} KiB (${f.largestFile}) | ${f.adminMs.p50} / ${f.adminMs.max} | ${f.metricsMs.p50} / ${f.metricsMs.max} | ${f.hitsPerSecond} | ${f.indexBuilt ? 'yes' : 'no'} |`,
      );
    }
  }
  return [
    '| engine | entries | seed s | new entry over upstream ms p50 / p99 / max | upstream ms p50 | event-loop delay ms p99 / max | RssAnon peak MiB | largest file | /admin ms p50 / max | /metrics ms p50 / max | hits/s (wrk) | index built in the run |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    ...(result.postgresNote ? ['', result.postgresNote] : []),
  ].join('\n');
}
