// Refresh throughput and cost per updater runtime, measured on the pool itself
// (the one boundary every runtime sits behind): start time, a no-op round
// trip, memory per worker, and tasks/s with latency for a CPU-heavy and an
// IO-heavy workload.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoIds, invalidDemoIds, largeDemoIds } from '../demo/data.js';
import { BUNDLED_SCHEMA, DEFAULT_UPDATER_NICE } from '../server/config/config.js';
import { recordBytes } from '../shared/answer-body.js';
import type { UpdaterPool } from '../workers/pool.js';
import type { Validators } from '../shared/upstream.js';
import type { RefreshTask } from '../workers/protocol.js';
import { createBenchPool, type BenchRuntime } from './baselines.js';
import { percentile, round } from './lib.js';
import { PING } from './ping-task.js';
import type { Plan } from './http-sections.js';

/** Resident memory (bytes) of a process, from /proc. */
function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function childPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

interface Workload {
  tasks: number;
  tasksPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** A refresh task as the service hands one to the pool; with validators, a conditional one. */
export function refreshTask(id: string, upstreamUrl: string, validators?: Validators): RefreshTask {
  return {
    kind: 'refresh',
    id,
    upstreamUrl,
    timeoutMs: 30_000,
    maxBytes: 1_048_576,
    schemaPath: BUNDLED_SCHEMA,
    cacheControl: { obey: true, minTtlMs: 1000, maxTtlMs: 86_400_000 },
    ...(validators ? { validators } : {}),
  };
}

/** A refresh as the service runs one: fetch, validate and hash, then publish the page. */
async function workload(pool: UpdaterPool, tasks: RefreshTask[], publishDir: string): Promise<Workload> {
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    tasks.map(async (task) => {
      const s = performance.now();
      const result = await pool.run(task);
      if (result.kind !== 'ok') throw new Error(`${task.id}: ${result.kind} ${'message' in result ? result.message : ''}`);
      const page = await pool.run({ kind: 'publish', id: task.id, record: recordBytes(result), hash: result.hash, fetchedAt: Date.now(), publishDir });
      if (page.kind === 'failed') throw new Error(`${task.id}: page not published: ${page.message}`);
      latencies.push(performance.now() - s);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return {
    tasks: tasks.length,
    tasksPerSecond: round(tasks.length / seconds, 1),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  };
}

export interface RefreshCost {
  startMs: number;
  noopRoundTripMs: number;
  memoryPerWorkerMB: number | null;
  cpu: Workload;
  io: Workload;
}

export async function refreshCost(
  plan: Plan,
  runtime: BenchRuntime,
  fastUpstream: string,
  slowUpstream: string,
  workers = availableParallelism(),
): Promise<RefreshCost> {
  const dir = mkdtempSync(join(tmpdir(), 'freshen-pool-bench-'));
  const invalid = new Set(invalidDemoIds());
  const small = demoIds().filter((id) => !invalid.has(id) && !largeDemoIds().includes(id));
  const spawnRuntime = runtime === 'spawn';
  // A process per task (and per page) is slow: fewer tasks measure it well enough.
  const cpuTasks = Array.from({ length: spawnRuntime ? (plan.quick ? 4 : 12) : plan.quick ? 48 : 120 }, (_, i) => {
    const large = largeDemoIds();
    return refreshTask(large[i % large.length] as string, fastUpstream);
  });
  const ioTasks = small.slice(0, spawnRuntime ? (plan.quick ? 8 : 24) : plan.quick ? 200 : 600).map((id) => refreshTask(id, slowUpstream));

  const childrenBefore = new Set(childPids());
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const pool = createBenchPool(runtime, {
    minWorkers: workers,
    maxWorkers: workers,
    maxQueue: 100_000,
    taskTimeoutMs: 120_000,
    tasksPerWorker: 8,
    nice: DEFAULT_UPDATER_NICE,
  });
  try {
    // Every worker up: one ping per worker slot at once.
    await Promise.all(Array.from({ length: workers }, () => pool.run(PING)));
    const startMs = performance.now() - t0;
    const pings = spawnRuntime ? 5 : 300;
    const p0 = performance.now();
    for (let i = 0; i < pings; i++) await pool.run(PING);
    const noopRoundTripMs = (performance.now() - p0) / pings;

    let memoryPerWorkerMB: number | null = null;
    if (runtime === 'thread') memoryPerWorkerMB = (process.memoryUsage().rss - rssBefore) / workers / 2 ** 20;
    if (runtime === 'process') {
      const added = childPids().filter((pid) => !childrenBefore.has(pid));
      memoryPerWorkerMB = added.reduce((sum, pid) => sum + rss(pid), 0) / Math.max(1, added.length) / 2 ** 20;
    }
    if (runtime === 'inline') memoryPerWorkerMB = 0;

    const cpu = await workload(pool, cpuTasks, dir);
    const io = await workload(pool, ioTasks, dir);
    return {
      startMs: round(startMs, 1),
      noopRoundTripMs: round(noopRoundTripMs, 3),
      memoryPerWorkerMB: memoryPerWorkerMB === null ? null : round(memoryPerWorkerMB, 1),
      cpu,
      io,
    };
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
