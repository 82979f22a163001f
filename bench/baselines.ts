// The benchmark's baselines, the runtimes operators cannot choose: `inline`
// (the task on the main thread) and `spawn` (a new process per task). They sit
// behind the same pool (workers/pool.ts) as thread and process, so the same
// timing and bounds apply; they show why the other two exist.
import { deserialize, serialize } from 'node:v8';
import { execa } from 'execa';
import { createUpdaterPool, type Backend, type BackendFactory, type PoolOptions, type UpdaterPool, type UpdaterRuntime } from '../workers/pool.js';
import type { PublishResult, RefreshResult, Task } from '../workers/protocol.js';
import { PING_TASK_MODULE } from './ping-task.js';

type Baseline = 'inline' | 'spawn';
export type BenchRuntime = UpdaterRuntime | Baseline;

export const isBaseline = (runtime: BenchRuntime): runtime is Baseline => runtime === 'inline' || runtime === 'spawn';

function inlineBackend(o: PoolOptions): Backend {
  let completed = 0;
  const module = import((o.taskModule ?? PING_TASK_MODULE).href) as Promise<{ default: (t: Task) => Promise<RefreshResult | PublishResult> }>;
  return {
    run: async (task) => {
      try {
        // On the main thread: neither tracked nor given a lower priority.
        return await (await module).default({ ...task, trackKey: undefined, nice: undefined });
      } finally {
        completed++;
      }
    },
    workers: () => 1,
    queued: () => 0,
    completed: () => completed,
    kill: () => undefined, // the main thread cannot be replaced
    close: async () => undefined,
  };
}

function spawnBackend(o: PoolOptions): Backend {
  const script = new URL('./run-once.js', import.meta.url).pathname;
  let completed = 0;
  let running = 0;
  // As many processes at once as the pool has workers; the rest wait their turn
  // (a finished one hands its place straight to the next).
  const waiting: Array<() => void> = [];
  const acquire = async () => {
    if (running < o.maxWorkers) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return {
    run: async (task) => {
      await acquire();
      try {
        const child = await execa(process.execPath, [script], {
          input: serialize({ ...task, trackKey: undefined }),
          encoding: 'buffer',
          timeout: o.taskTimeoutMs,
        });
        return deserialize(child.stdout) as RefreshResult | PublishResult;
      } finally {
        completed++;
        release();
      }
    },
    workers: () => running,
    queued: () => waiting.length,
    completed: () => completed,
    kill: () => undefined, // execa's timeout ends the process
    close: async () => undefined,
  };
}

export const BASELINES = { inline: inlineBackend, spawn: spawnBackend } satisfies Record<Baseline, BackendFactory>;

/**
 * A pool on any runtime the benchmark measures, running its task module (the
 * updater's tasks and ping). A baseline's pool stands in for the default
 * runtime, whose name its stats() report (nothing here reads them).
 */
export function createBenchPool(runtime: BenchRuntime, options: Omit<PoolOptions, 'runtime' | 'taskModule'>): UpdaterPool {
  const settings = { ...options, taskModule: PING_TASK_MODULE };
  return isBaseline(runtime) ? createUpdaterPool({ ...settings, runtime: 'thread' }, BASELINES[runtime]) : createUpdaterPool({ ...settings, runtime });
}
