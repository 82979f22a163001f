// The revalidation benchmark on the updater pool itself: what a refresh costs
// when the upstream answers 304 against 200 with the same record, for records
// of ~1-4 KB and of ~100 KB, on threads and on processes. The two kinds run in
// alternating rounds (304, 200, 304, 200 …), each pair giving one ratio: the
// machine is shared and its speed drifts within seconds.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoIds, demoRecordJson, invalidDemoIds, largeDemoIds } from '../demo/data.js';
import { DEFAULT_UPDATER_NICE } from '../server/config/config.js';
import { recordBytes } from '../shared/answer-body.js';
import type { UpdaterPool } from '../workers/pool.js';
import type { RefreshTask } from '../workers/protocol.js';
import { createBenchPool } from './baselines.js';
import { median, percentile, round } from './lib.js';
import { refreshTask } from './pool-sections.js';
import { changing } from './revalidate-data.js';

/** A spread of pairwise figures: their median, least and greatest, and how many pairs. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  pairs: number;
}

export function spread(values: number[], digits = 3): Spread {
  return { median: round(median(values), digits), min: round(Math.min(...values), digits), max: round(Math.max(...values), digits), pairs: values.length };
}

export interface KindFigures {
  tasks: number;
  /** The median round's. */
  tasksPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface PairFigures {
  recordBytes: number;
  notModified: KindFigures;
  ok: KindFigures;
  /** Time per 304 refresh ÷ time per 200 refresh (and its page), round by round. */
  costRatio: Spread;
}

/** Static entries (never changing) of a size, so a 200 always carries the record a 304 would keep. */
function sizedIds(min: number, max: number, from: string[]): string[] {
  const invalid = new Set(invalidDemoIds());
  return from.filter((id) => {
    const n = demoRecordJson(id)?.length ?? 0;
    return !invalid.has(id) && !changing(id) && n >= min && n <= max;
  });
}

/**
 * `count` tasks, `inFlight` at a time. A 200 is followed by its page, as the
 * service does after every stored record; a 304 writes nothing.
 */
async function runRound(pool: UpdaterPool, tasks: RefreshTask[], count: number, inFlight: number, publishDir: string) {
  const expected = tasks[0]?.validators ? 'not-modified' : 'ok';
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const t = tasks[next++ % tasks.length] as RefreshTask;
        const s = performance.now();
        const result = await pool.run(t);
        if (result.kind !== expected) throw new Error(`${t.id}: ${result.kind}, not ${expected}`);
        if (result.kind === 'ok') {
          const page = await pool.run({ kind: 'publish', id: t.id, record: recordBytes(result), hash: result.hash, fetchedAt: Date.now(), publishDir });
          if (page.kind === 'failed') throw new Error(`${t.id}: page not published: ${page.message}`);
        }
        latencies.push(performance.now() - s);
      }
    }),
  );
  return { seconds: (performance.now() - t0) / 1000, latencies };
}

async function pair(pool: UpdaterPool, ids: string[], upstreamUrl: string, rounds: number, count: number, publishDir: string): Promise<PairFigures> {
  const inFlight = availableParallelism() * 4;
  const unconditional = ids.map((id) => refreshTask(id, upstreamUrl));
  // The validators each record comes with, from one unconditional fetch (which also warms the workers up).
  const conditional: RefreshTask[] = [];
  for (const t of unconditional) {
    const result = await pool.run(t);
    if (result.kind !== 'ok') throw new Error(`${t.id}: ${result.kind}`);
    conditional.push(refreshTask(t.id, upstreamUrl, result.validators));
  }
  // Half a round of each first, unmeasured: the first rounds ran slower (JIT, connections, the page directory).
  await runRound(pool, conditional, count / 2, inFlight, publishDir);
  await runRound(pool, unconditional, count / 2, inFlight, publishDir);
  const runs = { notModified: [] as Array<{ seconds: number; latencies: number[] }>, ok: [] as Array<{ seconds: number; latencies: number[] }> };
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = await runRound(pool, conditional, count, inFlight, publishDir);
    const b = await runRound(pool, unconditional, count, inFlight, publishDir);
    runs.notModified.push(a);
    runs.ok.push(b);
    ratios.push(a.seconds / b.seconds);
  }
  const figures = (rs: typeof runs.ok): KindFigures => {
    const all = rs.flatMap((x) => x.latencies);
    return {
      tasks: all.length,
      tasksPerSecond: round(median(rs.map((x) => count / x.seconds)), 1),
      p50Ms: round(percentile(all, 50)),
      p99Ms: round(percentile(all, 99)),
    };
  };
  const bytes = ids.map((id) => demoRecordJson(id)?.length ?? 0);
  return { recordBytes: Math.round(bytes.reduce((s, n) => s + n, 0) / bytes.length), notModified: figures(runs.notModified), ok: figures(runs.ok), costRatio: spread(ratios) };
}

export type PoolFigures = Record<'small' | 'large', PairFigures>;

/** `upstreamUrl`: the revalidation upstream's template, honouring If-None-Match. */
export async function poolRefreshCost(quick: boolean, runtime: 'thread' | 'process', upstreamUrl: string): Promise<PoolFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'freshen-revalidate-'));
  const workers = availableParallelism();
  const pool = createBenchPool(runtime, {
    minWorkers: workers,
    maxWorkers: workers,
    maxQueue: 100_000,
    taskTimeoutMs: 120_000,
    tasksPerWorker: 8,
    nice: DEFAULT_UPDATER_NICE,
  });
  try {
    const rounds = quick ? 2 : 4;
    const small = sizedIds(1000, 4096, demoIds()).slice(0, 40);
    const large = sizedIds(100_000, 130_000, largeDemoIds()).slice(0, 4);
    return {
      small: await pair(pool, small, upstreamUrl, rounds, quick ? 60 : 120, dir),
      large: await pair(pool, large, upstreamUrl, rounds, quick ? 6 : 12, dir),
    };
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
