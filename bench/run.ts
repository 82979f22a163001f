// `npm run bench` (full, ≤ 10 min) and `npm run bench:quick` (≤ 2 min): every
// figure taken in one run on this machine, each measurement repeated and its
// median kept, compared with baselines measured in the same run. Prints a
// table and writes bench/results/latest.{json,md} and runtime.svg.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchRuntime } from './baselines.js';
import { hitPath, isolation, missPath, startDemo, type Plan } from './http-sections.js';
import { ROOT } from './lib.js';
import { mail } from './mail-section.js';
import { refreshCost, type RefreshCost } from './pool-sections.js';
import { chart, markdown } from './report.js';
import { revalidateMarkdown } from './revalidate-report.js';
import { revalidate, type RevalidateResults } from './revalidate-section.js';
import { webConcurrency } from './scaling-section.js';
import { BENCH_NEEDS, ensureSystemPackages } from '../test/support/system-packages.js';
import { catalogue } from './catalogue-section.js';
import { coldPath, type ColdPath } from './cold-path-section.js';

const RUNTIMES: BenchRuntime[] = ['inline', 'thread', 'process', 'spawn'];
/** The quick run leaves out `spawn` (two Node starts a refresh): it alone took a fifth of it. */
const runtimesFor = (quick: boolean) => (quick ? RUNTIMES.filter((rt) => rt !== 'spawn') : RUNTIMES);

export interface Results {
  mode: 'quick' | 'full';
  plan: Plan;
  machine: { date: string; cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  hitPath: Awaited<ReturnType<typeof hitPath>>;
  isolation: Awaited<ReturnType<typeof isolation>>;
  refresh: Record<string, RefreshCost>;
  miss: Awaited<ReturnType<typeof missPath>>;
  mail: Awaited<ReturnType<typeof mail>>;
  scaling: {
    webConcurrency: Record<string, number>;
    updaterWorkers: Record<string, number>;
  };
  revalidate: RevalidateResults;
  /** Absent from results written before the section existed. */
  coldPath?: ColdPath;
  targets: Record<string, boolean | null>;
  seconds: number;
}

function step(name: string): () => void {
  const t0 = performance.now();
  process.stderr.write(`bench: ${name} …\n`);
  return () => process.stderr.write(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

async function main(): Promise<void> {
  // wrk, installed here when missing (as the suite installs its packages); without it, autocannon (capped) measures.
  ensureSystemPackages((line) => process.stderr.write(`bench: ${line}\n`), BENCH_NEEDS);
  const quick = process.argv.includes('--quick');
  // --only=hit,isolation,refresh,miss,mail,scaling,cold,revalidate,catalogue: a part, while working on it (results are
  // not written, but for a full run of revalidate: its figures replace that key of latest.json).
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  if (only) return partial(only, quick);
  const plan: Plan = { quick, reps: quick ? 1 : 3, seconds: quick ? 2 : 5 };
  const started = performance.now();
  const fast = await startDemo(0);
  const slow20 = await startDemo(20);
  const slow50 = await startDemo(50);
  try {
    let done = step('hit path vs bare Koa, node:http and nginx');
    const hit = await hitPath(plan, fast.ready);
    done();
    done = step('event-loop isolation per runtime');
    // The quick run leaves out inline here too: its storm's backlog takes seconds to drain.
    const iso = await isolation(plan, fast.ready, quick ? ['thread', 'process'] : RUNTIMES);
    done();
    done = step('refresh throughput and cost per runtime');
    const refresh: Record<string, RefreshCost> = {};
    for (const rt of runtimesFor(quick)) refresh[rt] = await refreshCost(plan, rt, fast.ready, slow50.ready);
    done();
    done = step('miss path');
    const miss = await missPath(plan, slow20);
    done();
    done = step('mail');
    const mailResult = await mail(plan);
    done();
    done = step('scaling');
    const updaterWorkers: Record<string, number> = {};
    for (let n = 1; n <= availableParallelism(); n++) {
      // One worker per core is what the refresh section just measured.
      const cost = n === availableParallelism() ? refresh.thread : await refreshCost(plan, 'thread', fast.ready, slow50.ready, n);
      updaterWorkers[String(n)] = (cost as RefreshCost).cpu.tasksPerSecond;
    }
    const scaling = {
      webConcurrency: await webConcurrency(plan, fast.ready),
      updaterWorkers,
    };
    done();
    done = step('cold path: hits from SQL over a data set ten times the memory tier');
    const cold = await coldPath(plan, fast.ready);
    done();
    done = step('revalidation and refresh ahead');
    const revalidateResult = await revalidate(plan);
    done();

    const results: Results = {
      mode: quick ? 'quick' : 'full',
      plan,
      machine: {
        date: new Date().toISOString().slice(0, 10),
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.versions.node,
        platform: `${process.platform} ${process.arch}`,
      },
      hitPath: hit,
      isolation: iso,
      refresh,
      miss,
      mail: mailResult,
      scaling,
      revalidate: revalidateResult,
      coldPath: cold,
      targets: {
        coldPathRatio: cold.sqlite.ratio >= 0.8 && cold.sqlite.cold.p99 <= 10,
        coldPathPostgres: cold.postgres ? cold.postgres.ratio >= 0.6 : null,
        hitPathRatio: hit.ratio >= 1.2,
        isolation_thread: (iso.thread?.p99Ratio ?? Infinity) <= 1.5,
        isolation_process: (iso.process?.p99Ratio ?? Infinity) <= 1.5,
        missOverhead: miss.overheadMs.p50 <= 3,
        mail: mailResult.messagesPerSecond >= 200 && mailResult.processesPerBatch <= 1,
      },
      seconds: Math.round((performance.now() - started) / 1000),
    };
    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const md = withRevalidate(results);
    writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(dir, 'latest.md'), md);
    writeFileSync(join(dir, 'runtime.svg'), chart(results));
    process.stdout.write(`\n${md}\nwrote bench/results/latest.json, latest.md and runtime.svg in ${results.seconds} s\n`);
  } finally {
    await Promise.all([fast.stop(), slow20.stop(), slow50.stop()]);
  }
}

/** Some sections only, printed as JSON: for working on one part. */
async function partial(sections: string[], quick: boolean): Promise<void> {
  const plan: Plan = { quick, reps: quick ? 1 : 3, seconds: quick ? 2 : 5 };
  const fast = await startDemo(0);
  const slow20 = await startDemo(20);
  const slow50 = await startDemo(50);
  try {
    const out: Record<string, unknown> = {};
    if (sections.includes('hit')) out.hitPath = await hitPath(plan, fast.ready);
    if (sections.includes('isolation')) out.isolation = await isolation(plan, fast.ready, runtimesFor(quick));
    if (sections.includes('refresh')) {
      for (const rt of runtimesFor(quick)) out[`refresh.${rt}`] = await refreshCost(plan, rt, fast.ready, slow50.ready);
    }
    if (sections.includes('miss')) out.miss = await missPath(plan, slow20);
    if (sections.includes('mail')) out.mail = await mail(plan);
    if (sections.includes('scaling')) out.webConcurrency = await webConcurrency(plan, fast.ready);
    if (sections.includes('cold')) out.coldPath = await coldPath(plan, fast.ready);
    if (sections.includes('catalogue')) out.catalogue = await catalogue(fast.ready, quick);
    if (sections.includes('revalidate')) {
      const figures = await revalidate(plan);
      process.stdout.write(`\n${revalidateMarkdown(figures)}\n`);
      if (!quick) mergeRevalidate(figures);
      if (sections.length === 1) return;
    }
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await Promise.all([fast.stop(), slow20.stop(), slow50.stop()]);
  }
}

/** The tables of a run; results written before the revalidate section existed have none of its. */
function withRevalidate(results: Results): string {
  const md = markdown(results);
  return (results as Partial<Results>).revalidate ? `${md}\n${revalidateMarkdown(results.revalidate)}` : md;
}

/** The revalidate figures of a run of that section alone, into the last full results (the rest as it was). */
function mergeRevalidate(figures: RevalidateResults): void {
  const dir = join(ROOT, 'bench', 'results');
  const results = { ...(JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as Results), revalidate: figures };
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), withRevalidate(results));
  process.stdout.write('wrote its figures into bench/results/latest.json (revalidate) and latest.md\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
