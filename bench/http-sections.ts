// The measurements made over HTTP against freshen running as a process of its
// own: the hit path against bare Koa and node:http, event-loop isolation per
// updater runtime, the miss path's overhead, and hit latency with large data.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoIds, demoRecordJson, invalidDemoIds, largeDemoIds } from '../demo/data.js';
import { freePort } from '../test/support/free-port.js';
import type { BenchRuntime } from './baselines.js';
import { load, mainThreadCpuMs, median, pairwise, percentile, round, startNode, type Running } from './lib.js';
import { startNginx } from './nginx.js';
import { throughput } from './wrk.js';

export const TOKEN = 'benchmark-admin-token';
/** Refresh requests per second in the isolation storm. */
export const STORM_RATE = 60;

export interface Plan {
  quick: boolean;
  reps: number;
  seconds: number;
}

/** A demo upstream process with a fixed latency. */
export async function startDemo(latencyMs: number): Promise<Running> {
  const port = await freePort();
  return startNode('dist/demo/main.js', [], { DEMO_PORT: String(port), DEMO_LATENCY_MS: String(latencyMs) }, /upstream: (\S+)/);
}

/** freshen as a process, on a fresh SQLite file, with the given settings. */
export async function startFreshen(upstreamUrl: string, runtime: BenchRuntime, env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Running & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'freshen-bench-'));
  const running = await startNode(
    'dist/bench/freshen-server.js',
    [runtime],
    {
      PORT: '0',
      UPSTREAM_URL: upstreamUrl,
      DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
      PUBLISH_DIR: join(dir, 'pages'),
      LOG_FILE: join(dir, 'access.log'),
      MAIL_DIR: join(dir, 'mail'),
      LOG_LEVEL: 'warn',
      ENTRY_TTL_SECONDS: '86400',
      // No index rewrite in the middle of a measurement (inline would run it on the main thread).
      PUBLISH_INDEX_SECONDS: '3600',
      ADMIN_TOKEN: TOKEN,
      ...env,
    },
    /^READY (\S+)$/m,
    30_000,
    nodeArgs,
  );
  return {
    ...running,
    dir,
    stop: async () => {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Demo ids whose answers are about 1 KB (the size the hit path is measured at). */
export function hitIds(): string[] {
  const invalid = new Set(invalidDemoIds());
  return demoIds().filter((id) => {
    const n = demoRecordJson(id)?.length ?? 0;
    return !invalid.has(id) && n >= 700 && n <= 1400;
  });
}

/** Until the updater pool has nothing left to do (the pages of a prefill, say): nothing measured competes with it. */
export async function settle(url: string): Promise<void> {
  const deadline = performance.now() + 120_000;
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    if (Number(/^freshen_updater_in_flight (\d+)/m.exec(text)?.[1] ?? 0) === 0) return;
    if (performance.now() > deadline) throw new Error('the updater pool did not settle');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Read every id until each is stored and in memory (a small pool sheds some reads: ask again), then let its pages be written. */
export async function prefill(url: string, ids: string[]): Promise<void> {
  let missing = ids;
  for (let attempt = 0; missing.length > 0; attempt++) {
    if (attempt > 50) throw new Error(`prefill: ${missing.length} entries would not load`);
    const failed: string[] = [];
    for (let i = 0; i < missing.length; i += 8) {
      const res = await fetch(`${url}/entries?ids=${missing.slice(i, i + 8).join(',')}`);
      if (res.status !== 200) throw new Error(`prefill answered ${res.status}`);
      const body = (await res.json()) as { errors: Array<{ id: string }> };
      failed.push(...body.errors.map((e) => e.id));
    }
    missing = failed;
  }
  await settle(url);
}

export async function hitPath(plan: Plan, upstreamUrl: string) {
  const ids = hitIds();
  const paths = ids.map((id) => `/entries/${id}`);
  const freshen = await startFreshen(upstreamUrl, 'thread');
  // Each server is stopped however far the start got.
  const started: Array<{ stop(): Promise<void> }> = [freshen];
  try {
    await prefill(freshen.ready, ids);
    // The baselines answer the same bodies as freshen, by id.
    const bodies: Record<string, string> = {};
    for (const id of ids) bodies[id] = await (await fetch(`${freshen.ready}/entries/${id}`)).text();
    const bodiesFile = join(freshen.dir, 'bodies.json');
    writeFileSync(bodiesFile, JSON.stringify(bodies));
    const sample = bodies[ids[Math.floor(ids.length / 2)] as string] ?? '';
    const koa = await startNode('dist/bench/targets.js', ['koa', bodiesFile], {}, /^READY (\S+)$/m);
    started.push(koa);
    const node = await startNode('dist/bench/targets.js', ['node', bodiesFile], {}, /^READY (\S+)$/m);
    started.push(node);
    const nginx = await startNginx(new URL(upstreamUrl.replace('{id}', 'x')).origin);
    if (nginx) started.push(nginx);
    const targets: Record<string, string> = { freshen: freshen.ready, koa: koa.ready, node: node.ready };
    const runs: Record<string, Array<{ rps: number; p50: number; p99: number }>> = { freshen: [], koa: [], node: [], nginx: [] };
    let generator = 'wrk';
    if (nginx) {
      // Every path once through nginx, so the measured reads are proxy_cache hits.
      for (const path of paths) await (await fetch(`${nginx.ready}${path}`)).arrayBuffer();
      targets.nginx = nginx.ready;
    }
    // Interleaved, so drift on a shared machine hits every target alike.
    for (let rep = 0; rep < plan.reps; rep++) {
      for (const [name, url] of Object.entries(targets)) {
        const result = await throughput(url, paths, { connections: 50, seconds: plan.seconds });
        if (result.errors > 0) throw new Error(`hit path: ${name} answered ${result.errors} errors`);
        generator = result.generator;
        runs[name]?.push({ rps: result.rps, p50: result.p50, p99: result.p99 });
      }
    }
    const med = (name: string) => {
      const r = runs[name] ?? [];
      const m = (k: 'rps' | 'p50' | 'p99') => percentile(r.map((x) => x[k]), 50);
      return { rps: Math.round(m('rps')), p50: m('p50'), p99: m('p99') };
    };
    const results = { freshen: med('freshen'), koa: med('koa'), node: med('node'), nginx: nginx ? med('nginx') : null };
    const rps = (name: string) => (runs[name] ?? []).map((r) => r.rps);
    const vsKoa = pairwise(rps('freshen'), rps('koa'));
    return {
      ...results,
      bodyBytes: Buffer.byteLength(sample),
      generator,
      ids: ids.length,
      ratio: vsKoa.median,
      ratioSpread: { min: vsKoa.min, max: vsKoa.max, rounds: vsKoa.rounds },
      vsNode: pairwise(rps('freshen'), rps('node')).median,
      vsNginx: nginx ? pairwise(rps('freshen'), rps('nginx')).median : null,
      nginxNote: nginx ? 'proxy_cache hits, 1 worker process' : 'not installed (apt-get install nginx to add the proxy_cache peer)',
    };
  } finally {
    for (const server of started.toReversed()) await server.stop();
  }
}

/**
 * This process measures latency itself: a collection of its own garbage in the
 * middle of a window would count as the server's stall (seen: idle p99 of
 * 36 ms). With --expose-gc (npm run bench), collect before each window.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Latency (ms) of requests sent at a fixed rate from this process, one connection each at a time. */
async function fixedRate(url: string, paths: string[], rate: number, seconds: number): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const latencies: number[] = [];
  const pending: Array<Promise<void>> = [];
  const started = performance.now();
  for (let i = 0; performance.now() - started < seconds * 1000; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const path = paths[i % paths.length] as string;
    // Measured from when the request was due, so a stalled server cannot hide its stall.
    pending.push(
      new Promise<void>((resolve) => {
        const req = request(`${url}${path}`, { agent }, (res) => {
          res.resume();
          res.on('end', () => {
            latencies.push(performance.now() - due);
            resolve();
          });
        });
        req.on('error', () => resolve());
        req.end();
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return latencies;
}

export async function isolation(plan: Plan, upstreamUrl: string, runtimes: BenchRuntime[]) {
  const large = largeDemoIds();
  const out: Record<
    string,
    {
      idleP99: number;
      stormP99: number;
      p99Ratio: number;
      p99RatioSpread: { min: number; max: number };
      refreshesPerSecond: number;
      mainCpuMsPerRefresh: number;
    }
  > = {};
  for (const runtime of runtimes) {
    // A few ids: filling them costs two processes each (refresh, page) under
    // `spawn`, and a long fill left the idle baseline noisy (36 ms idle p99 with 200).
    const ids = hitIds().slice(0, runtime === 'spawn' ? 8 : 40);
    const paths = ids.map((id) => `/entries/${id}`);
    // A short queue: the storm keeps the worker busy without piling up work to drain at the end.
    const freshen = await startFreshen(upstreamUrl, runtime, {
      UPDATER_MIN_WORKERS: '1',
      UPDATER_MAX_WORKERS: '1',
      UPDATER_MAX_QUEUE: '8',
    });
    try {
      await prefill(freshen.ready, ids);
      const refreshed = async () => {
        const text = await (await fetch(`${freshen.ready}/metrics`)).text();
        return Number(/^freshen_refreshes_total\{outcome="ok"\} (\d+)/m.exec(text)?.[1] ?? 0);
      };
      await fixedRate(freshen.ready, paths, 200, plan.quick ? 0.5 : 1); // warm-up: JIT, connections
      // Idle and storm windows alternate; each storm's p99 is taken over the idle one just before it.
      const rounds: Array<{ idleP99: number; stormP99: number; refreshesPerSecond: number; mainCpuMsPerRefresh: number }> = [];
      const pid = freshen.child.pid as number;
      for (let rep = 0; rep < plan.reps; rep++) {
        await settle(freshen.ready); // the last storm's backlog is not part of "idle"
        collectGarbage();
        let cpu0 = mainThreadCpuMs(pid);
        let w0 = performance.now();
        const idle = await fixedRate(freshen.ready, paths, 200, plan.seconds);
        // The main thread's CPU per ms while it answers the hits alone.
        const idleCpuPerMs = (mainThreadCpuMs(pid) - cpu0) / (performance.now() - w0);
        const before = await refreshed();
        const t0 = performance.now();
        const storm = load({
          url: freshen.ready,
          paths: large.map((id) => `/entries/${id}/refresh`),
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}` },
          connections: 4,
          // More refreshes than one worker gets through (~10-25/s of these), so
          // the pool stays busy, but not an HTTP flood of its own on the server.
          rate: STORM_RATE,
          seconds: plan.seconds + 1,
        });
        await new Promise((r) => setTimeout(r, 500)); // let the storm fill the pool
        collectGarbage();
        const inWindow = await refreshed();
        cpu0 = mainThreadCpuMs(pid);
        w0 = performance.now();
        const busy = await fixedRate(freshen.ready, paths, 200, plan.seconds);
        // Over the same hits, what the main thread spent besides them: the
        // refreshes' share (their admin POST, claim, store, result and page hand-off).
        const extraCpuMs = mainThreadCpuMs(pid) - cpu0 - idleCpuPerMs * (performance.now() - w0);
        const refreshesInWindow = (await refreshed()) - inWindow;
        await storm;
        const rate = ((await refreshed()) - before) / ((performance.now() - t0) / 1000);
        rounds.push({
          idleP99: percentile(idle, 99),
          stormP99: percentile(busy, 99),
          refreshesPerSecond: rate,
          mainCpuMsPerRefresh: extraCpuMs / Math.max(1, refreshesInWindow),
        });
      }
      const ratio = pairwise(rounds.map((r) => r.stormP99), rounds.map((r) => r.idleP99), 2);
      out[runtime] = {
        idleP99: round(median(rounds.map((r) => r.idleP99))),
        stormP99: round(median(rounds.map((r) => r.stormP99))),
        p99Ratio: ratio.median,
        p99RatioSpread: { min: ratio.min, max: ratio.max },
        refreshesPerSecond: round(median(rounds.map((r) => r.refreshesPerSecond)), 1),
        mainCpuMsPerRefresh: round(median(rounds.map((r) => r.mainCpuMsPerRefresh)), 2),
      };
    } finally {
      await freshen.stop();
    }
  }
  return out;
}

/** Latency of sequential requests for ids never asked before. */
async function firstReads(base: string, ids: string[], path: (id: string) => string): Promise<number[]> {
  const latencies: number[] = [];
  for (const id of ids) {
    const t0 = performance.now();
    const res = await fetch(`${base}${path(id)}`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${path(id)} answered ${res.status}`);
    latencies.push(performance.now() - t0);
  }
  return latencies;
}

export async function missPath(plan: Plan, slowUpstream: Running) {
  const ids = hitIds().slice(0, plan.quick ? 60 : 200);
  const freshen = await startFreshen(slowUpstream.ready, 'thread');
  try {
    const origin = new URL(slowUpstream.ready.replace('{id}', 'x')).origin;
    // Warm both connections first, then every id once through each.
    await firstReads(origin, ids.slice(0, 3), (id) => `/entries/${id}`);
    await firstReads(freshen.ready, ['e0001'], (id) => `/entries/${id}`);
    const direct = await firstReads(origin, ids, (id) => `/entries/${id}`);
    const miss = await firstReads(freshen.ready, ids, (id) => `/entries/${id}`);
    return {
      upstreamMs: { p50: round(percentile(direct, 50)), p99: round(percentile(direct, 99)) },
      missMs: { p50: round(percentile(miss, 50)), p99: round(percentile(miss, 99)) },
      overheadMs: {
        p50: round(percentile(miss, 50) - percentile(direct, 50)),
        p99: round(percentile(miss, 99) - percentile(direct, 99)),
      },
      requests: ids.length,
    };
  } finally {
    await freshen.stop();
  }
}
