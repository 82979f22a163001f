// The benchmark of revalidation and refresh ahead (`--only=revalidate`):
// 1. on the pool: a refresh answered 304 against one answered 200 (revalidate-pool.ts);
//    and through a real freshen, the server's own CPU to store either;
// 2. a real freshen over entries nine in ten of which never change, with a short
//    TTL and a steady uniform read load: what the upstream sends, and the refresh
//    CPU, when it honours If-None-Match and when it does not (every refresh a 200);
// 3. the same under Zipf-distributed reads, ENTRY_REFRESH_AHEAD 0 and 0.8: the
//    share of stale answers and the upstream requests each way.
// Within each part the two sides alternate, so drift on a shared machine hits both.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { demoIds, invalidDemoIds } from '../demo/data.js';
import { prefill, settle, startFreshen, TOKEN, type Plan } from './http-sections.js';
import { load, median, round, startNode, type Running } from './lib.js';
import { changing, type Counts } from './revalidate-data.js';
import { poolRefreshCost, spread, type PoolFigures, type Spread } from './revalidate-pool.js';

const ZIPF_S = 1.1;
const AHEAD = 0.8;

/** CPU time (s) of every thread of a process, from /proc (ns resolution, unlike /proc/pid/stat's ticks). */
function cpuSeconds(pid: number): number {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    // gone
  }
  return ns / 1e9;
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc').filter((name) => {
    if (!/^\d+$/.test(name)) return false;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
    } catch {
      return false;
    }
  }).map(Number);
}

/** The server's own CPU, and its updater workers' (UPDATER_RUNTIME=process: child processes). */
function cpuOf(server: Running): { server: number; workers: number } {
  const pid = server.child.pid as number;
  return { server: cpuSeconds(pid), workers: childrenOf(pid).reduce((s, child) => s + cpuSeconds(child), 0) };
}

/** One sample of a Prometheus counter (or a histogram's _count) with one label. */
function sample(text: string, name: string, label: string, value: string): number {
  return Number(new RegExp(`^${name}\\{${label}="${value}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
}

async function snapshot(server: Running) {
  const text = await (await fetch(`${server.ready}/metrics`)).text();
  const outcome = (o: string) => sample(text, 'freshen_cache_outcomes_total', 'outcome', o);
  const refreshes = (o: string) => sample(text, 'freshen_refreshes_total', 'outcome', o);
  return {
    reads: outcome('hit') + outcome('stale') + outcome('miss') + outcome('collapsed'),
    stale: outcome('stale'),
    skipped: outcome('refresh_skipped'),
    ok: refreshes('ok'),
    notModified: refreshes('not-modified'),
    pages: sample(text, 'freshen_updater_task_run_seconds_count', 'kind', 'publish'),
    cpu: cpuOf(server),
  };
}

export interface ServerPhase {
  seconds: number;
  reads: number;
  /** Answers with Cache-Status fwd=stale, of all. */
  staleShare: number;
  upstream: Omit<Counts, 'gapsMs'>;
  upstreamPerSecond: number;
  /** Refreshes by outcome, as freshen counted them; skipped: the pool was full. */
  refreshes: { ok: number; notModified: number; skipped: number };
  pages: number;
  workerCpuSeconds: number;
  serverCpuSeconds: number;
  /** The shortest time between two upstream requests for one entry. */
  minGapMs: number;
}

interface Upstream {
  origin: string;
  call(label: string, what: string): Promise<unknown>;
}

/**
 * Until no refresh is under way: the pool's in-flight gauge misses one between
 * its request and its hand-off to the pool (seen: a tenth of a pass of
 * refreshes counted in the next window), so until the counts stand still too.
 */
async function quiet(server: Running): Promise<void> {
  const refreshes = async () => {
    const s = await snapshot(server);
    return s.ok + s.notModified + s.pages;
  };
  for (let i = 0, last = -1; i < 50; i++) {
    await settle(server.ready);
    const now = await refreshes();
    if (now === last) return;
    last = now;
    await sleep(200);
  }
}

/**
 * What `drive` makes the server do, measured from `warmSeconds` after it
 * starts: a server whose entries all went stale while another was measured
 * would otherwise begin with a burst of stale answers the other never had.
 */
async function phase(server: Running, upstream: Upstream, label: string, drive: () => Promise<unknown>, warmSeconds = 0): Promise<ServerPhase> {
  await quiet(server);
  const driving = drive();
  if (warmSeconds > 0) await sleep(warmSeconds * 1000);
  await upstream.call(label, 'reset');
  const before = await snapshot(server);
  const t0 = performance.now();
  await driving;
  const seconds = (performance.now() - t0) / 1000;
  await quiet(server); // the refreshes its last reads started
  const after = await snapshot(server);
  const { gapsMs, ...sent } = (await upstream.call(label, 'stats')) as Counts;
  const reads = after.reads - before.reads;
  return {
    seconds: round(seconds, 1),
    reads,
    staleShare: round((after.stale - before.stale) / Math.max(1, reads), 4),
    upstream: sent,
    upstreamPerSecond: round(sent.requests / seconds, 1),
    refreshes: { ok: after.ok - before.ok, notModified: after.notModified - before.notModified, skipped: after.skipped - before.skipped },
    pages: after.pages - before.pages,
    workerCpuSeconds: round(after.cpu.workers - before.cpu.workers, 3),
    serverCpuSeconds: round(after.cpu.server - before.cpu.server, 3),
    minGapMs: gapsMs.length === 0 ? NaN : Math.min(...gapsMs),
  };
}

/** The median of each figure over the rounds (the first round's counts of the upstream's kinds stand for their shape). */
function medianPhase(runs: ServerPhase[]): ServerPhase {
  const m = (f: (p: ServerPhase) => number) => median(runs.map(f));
  return {
    seconds: m((p) => p.seconds),
    reads: m((p) => p.reads),
    staleShare: m((p) => p.staleShare),
    upstream: {
      requests: m((p) => p.upstream.requests),
      notModified: m((p) => p.upstream.notModified),
      ok: m((p) => p.upstream.ok),
      bodyBytes: m((p) => p.upstream.bodyBytes),
      wireBytes: m((p) => p.upstream.wireBytes),
    },
    upstreamPerSecond: m((p) => p.upstreamPerSecond),
    refreshes: { ok: m((p) => p.refreshes.ok), notModified: m((p) => p.refreshes.notModified), skipped: m((p) => p.refreshes.skipped) },
    pages: m((p) => p.pages),
    workerCpuSeconds: m((p) => p.workerCpuSeconds),
    serverCpuSeconds: m((p) => p.serverCpuSeconds),
    minGapMs: Math.min(...runs.map((p) => p.minGapMs)),
  };
}

/** A path list whose uniform pick is Zipf(s) over the ids by rank (the first the most read). */
function zipfPaths(ids: string[], s: number, slots = 20_000): string[] {
  const weights = ids.map((_, k) => 1 / (k + 1) ** s);
  const total = weights.reduce((a, b) => a + b, 0);
  return ids.flatMap((id, k) => Array<string>(Math.max(1, Math.round(((weights[k] as number) / total) * slots))).fill(`/entries/${id}`));
}

/** Round by round, a figure of one side over the other's. */
function pairs<T>(a: T[], b: T[], f: (x: T, y: T) => number): Spread {
  return spread(a.map((x, i) => f(x, b[i] as T)));
}

export interface RevalidateResults {
  date: string;
  mode: 'quick' | 'full';
  settings: { entries: number; changingShare: number; ttlSeconds: number; readsPerSecond: number; phaseSeconds: number; rounds: number; zipfS: number; refreshAhead: number; runtime: string };
  pool: Record<'thread' | 'process', PoolFigures>;
  /** The server's own CPU (all its threads; workers are processes of their own) per refresh an operator asked for, request included. */
  store: { notModifiedMs: number; okMs: number; ratio: Spread; refreshes: number; pagesAfter304: number };
  savings: { honoured: ServerPhase; ignored: ServerPhase; wireBytesRatio: Spread; workerCpuRatio: Spread; serverCpuRatio: Spread };
  ahead: { off: ServerPhase; on: ServerPhase; extraUpstreamRatio: Spread };
  seconds: number;
}

/** Each part's time on stderr, as run.ts reports its sections. */
function timed<T>(name: string, part: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  return part().finally(() => process.stderr.write(`bench: revalidate: ${name} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`));
}

export async function revalidate(plan: Plan): Promise<RevalidateResults> {
  const started = performance.now();
  const rounds = plan.quick ? 1 : 2;
  const phaseSeconds = plan.quick ? 1 : 2;
  // Reads before each measured window: about two TTLs, so the copy is in its steady state.
  const warmSeconds = plan.quick ? 1 : 1.5;
  // A TTL of a second: a few seconds hold several refreshes of every entry read.
  const ttlSeconds = 1;
  // A fixed rate, the same for both sides; well within what 2 cores serve while refreshing.
  const readsPerSecond = 500;
  const invalid = new Set(invalidDemoIds());
  const ids = demoIds().filter((id) => !invalid.has(id)).slice(0, plan.quick ? 80 : 160);
  const settings = { entries: ids.length, changingShare: 0.1, ttlSeconds, readsPerSecond, phaseSeconds, rounds, zipfS: ZIPF_S, refreshAhead: AHEAD, runtime: 'process' };

  const up = await startNode('dist/bench/revalidate-upstream.js', [], {}, /^READY (\S+)$/m);
  const upstream: Upstream = {
    origin: up.ready,
    call: async (label, what) => (await fetch(`${up.ready}/${label}/${what}`, { method: what === 'stats' ? 'GET' : 'POST' })).json(),
  };
  const servers: Running[] = [];
  try {
    const pool = await timed('refresh cost on the pool', async () => ({
      thread: await poolRefreshCost(plan.quick, 'thread', `${up.ready}/pool/entries/{id}`),
      process: await poolRefreshCost(plan.quick, 'process', `${up.ready}/pool/entries/{id}`),
    }));

    const env = (ahead: number) => ({ ENTRY_TTL_SECONDS: String(ttlSeconds), ENTRY_REFRESH_AHEAD: String(ahead) });
    const [off, on] = await timed('two servers started and filled', async () => {
      const launched = await Promise.allSettled([
        startFreshen(`${up.ready}/off/entries/{id}`, 'process', env(0)),
        startFreshen(`${up.ready}/on/entries/{id}`, 'process', env(AHEAD)),
      ]);
      for (const s of launched) if (s.status === 'fulfilled') servers.push(s.value);
      for (const s of launched) if (s.status === 'rejected') throw s.reason;
      // Every entry stored (and its page written) before anything is measured.
      await Promise.all(servers.map((server) => prefill(server.ready, ids)));
      return servers as [Running, Running];
    });

    // The server's share: refreshes an operator asks for, of entries that never change.
    const unchanging = ids.filter((id) => !changing(id));
    const refreshAll = async () => {
      for (let i = 0; i < unchanging.length; i += 4) {
        await Promise.all(
          unchanging.slice(i, i + 4).map(async (id) => {
            await (await fetch(`${off.ready}/entries/${id}/refresh`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).arrayBuffer();
          }),
        );
      }
    };
    const perRefreshMs = (p: ServerPhase) => (p.serverCpuSeconds * 1000) / Math.max(1, p.refreshes.ok + p.refreshes.notModified);
    const store: Array<{ notModified: number; ok: number; a: ServerPhase; b: ServerPhase }> = [];
    await timed('the server\'s share', async () => {
      for (let r = 0; r < rounds; r++) {
        await upstream.call('off', 'honour/1');
        const a = await phase(off, upstream, 'off', refreshAll);
        await upstream.call('off', 'honour/0');
        const b = await phase(off, upstream, 'off', refreshAll);
        store.push({ notModified: perRefreshMs(a), ok: perRefreshMs(b), a, b });
      }
    });

    const uniform = ids.map((id) => `/entries/${id}`);
    const reads = (server: Running, paths: string[]) => () =>
      load({ url: server.ready, paths, connections: 8, rate: readsPerSecond, seconds: warmSeconds + phaseSeconds });
    const honoured: ServerPhase[] = [];
    const ignored: ServerPhase[] = [];
    await timed('savings', async () => {
      for (let r = 0; r < rounds; r++) {
        await upstream.call('off', 'honour/1');
        honoured.push(await phase(off, upstream, 'off', reads(off, uniform), warmSeconds));
        await upstream.call('off', 'honour/0');
        ignored.push(await phase(off, upstream, 'off', reads(off, uniform), warmSeconds));
      }
      await upstream.call('off', 'honour/1');
    });

    const zipf = zipfPaths(ids, ZIPF_S);
    const withoutAhead: ServerPhase[] = [];
    const withAhead: ServerPhase[] = [];
    await timed('refresh ahead', async () => {
      for (let r = 0; r < rounds; r++) {
        withoutAhead.push(await phase(off, upstream, 'off', reads(off, zipf), warmSeconds));
        withAhead.push(await phase(on, upstream, 'on', reads(on, zipf), warmSeconds));
      }
    });

    return {
      date: new Date().toISOString().slice(0, 10),
      mode: plan.quick ? 'quick' : 'full',
      settings,
      pool,
      store: {
        notModifiedMs: round(median(store.map((s) => s.notModified)), 3),
        okMs: round(median(store.map((s) => s.ok)), 3),
        ratio: spread(store.map((s) => s.notModified / s.ok)),
        refreshes: store.reduce((n, s) => n + s.a.refreshes.notModified + s.a.refreshes.ok, 0),
        // A 304 must leave the page alone.
        pagesAfter304: store.reduce((n, s) => n + s.a.pages, 0),
      },
      savings: {
        honoured: medianPhase(honoured),
        ignored: medianPhase(ignored),
        wireBytesRatio: pairs(honoured, ignored, (x, y) => x.upstream.wireBytes / y.upstream.wireBytes),
        workerCpuRatio: pairs(honoured, ignored, (x, y) => x.workerCpuSeconds / y.workerCpuSeconds),
        serverCpuRatio: pairs(honoured, ignored, (x, y) => x.serverCpuSeconds / y.serverCpuSeconds),
      },
      ahead: {
        off: medianPhase(withoutAhead),
        on: medianPhase(withAhead),
        extraUpstreamRatio: pairs(withAhead, withoutAhead, (x, y) => x.upstreamPerSecond / y.upstreamPerSecond),
      },
      seconds: Math.round((performance.now() - started) / 1000),
    };
  } finally {
    for (const server of servers.toReversed()) await server.stop();
    await up.stop();
  }
}
