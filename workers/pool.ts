// The one pool boundary: run(task), stats(), close(). The runtime behind it is
// Piscina worker threads; callers see only this interface and plain results.
import { Piscina } from 'piscina';
import type { PublishResult, RefreshResult, ResultOf, Task } from './protocol.js';

export interface PoolOptions {
  minWorkers: number;
  maxWorkers: number;
  maxQueue: number;
  /** A task past this is abandoned: its caller gets a `pool-timeout` failure. */
  taskTimeoutMs: number;
  tasksPerWorker: number;
}

export interface PoolStats {
  runtime: 'thread';
  workers: number;
  running: number;
  queued: number;
  maxQueue: number;
  completed: number;
  abandoned: number;
  /** Fraction of worker capacity in use since start (0..1). */
  utilization: number;
}

export interface UpdaterPool {
  /** Run one task. Rejects only with PoolFullError; every other failure is a result. */
  run<T extends Task>(task: T): Promise<ResultOf<T>>;
  /** Whether run() would be accepted now (a worker slot or queue room is free). */
  hasCapacity(): boolean;
  stats(): PoolStats;
  close(): Promise<void>;
}

export class PoolFullError extends Error {
  readonly code = 'POOL_FULL';
  constructor() {
    super('the updater queue is full');
    this.name = 'PoolFullError';
  }
}

export function createUpdaterPool(options: PoolOptions): UpdaterPool {
  const piscina = new Piscina<Task, RefreshResult | PublishResult>({
    filename: new URL('./updater.js', import.meta.url).href,
    minThreads: options.minWorkers,
    maxThreads: options.maxWorkers,
    maxQueue: options.maxQueue,
    // Refreshes mostly wait on the upstream, so one worker runs several at once.
    // No per-task AbortSignal: Piscina gives those only to idle workers.
    concurrentTasksPerWorker: options.tasksPerWorker,
    idleTimeout: 30_000,
    // A runaway task (a huge record) kills its worker, not the server.
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  });
  let running = 0;
  let abandoned = 0;
  const capacity = options.maxWorkers * options.tasksPerWorker;

  async function run<T extends Task>(task: T): Promise<ResultOf<T>> {
    if (!hasCapacity()) throw new PoolFullError();
    running++;
    let timer: NodeJS.Timeout | undefined;
    // A failure has the same shape in every kind of result.
    type Failed = ResultOf<T> & { kind: 'failed' };
    const deadline = new Promise<ResultOf<T>>((resolve) => {
      timer = setTimeout(() => {
        abandoned++;
        resolve({
          kind: 'failed',
          id: task.id,
          code: 'pool-timeout',
          message: `${task.kind} abandoned after ${options.taskTimeoutMs} ms`,
        } as Failed);
      }, options.taskTimeoutMs);
    });
    const work = (piscina.run(task) as Promise<ResultOf<T>>).catch((err: Error): ResultOf<T> => {
      if (err.message.includes('Task queue is at limit')) throw new PoolFullError();
      return { kind: 'failed', id: task.id, code: 'worker-error', message: err.message } as Failed;
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
      running--;
    }
  }

  function hasCapacity(): boolean {
    return running < capacity + options.maxQueue;
  }

  return {
    run,
    hasCapacity,
    stats: () => ({
      runtime: 'thread',
      workers: piscina.threads.length,
      running: Math.min(running, capacity),
      queued: piscina.queueSize,
      maxQueue: options.maxQueue,
      completed: piscina.completed,
      abandoned,
      utilization: piscina.utilization,
    }),
    close: () => piscina.close({ force: true }),
  };
}
