// The one pool boundary: run(task), stats(), close(). Behind it, the same task
// module (workers/updater.ts) runs on Piscina worker threads (UPDATER_RUNTIME
// =thread) or on tinypool's persistent child processes (=process). Callers see
// only plain results. Timing, utilisation and the hung-worker watchdog live
// here, so they are the same for both runtimes.
import { Piscina } from 'piscina';
import { Tinypool } from 'tinypool';
import type { ResultOf, Task, TaskResult, TaskStarted } from './protocol.js';
import { BACKGROUND_KINDS, isTaskStarted, WORKER_HEAP_MB } from './protocol.js';

/** The operator's choice (UPDATER_RUNTIME). */
export type UpdaterRuntime = 'thread' | 'process';

export interface PoolOptions {
  runtime: UpdaterRuntime;
  minWorkers: number;
  maxWorkers: number;
  maxQueue: number;
  /**
   * A caller waits at most this long, queue time included, then gets a
   * `pool-timeout` failure; a task that has *run* this long is hung, and its
   * worker is replaced.
   */
  taskTimeoutMs: number;
  tasksPerWorker: number;
  /** The nice value (0-19) workers run at, below the server's own priority. */
  nice: number;
  /** The task module; tests swap in one that misbehaves on purpose. */
  taskModule?: URL;
  /** Told each task's queue wait and run time (ms) when it ends. */
  observe?: (timing: { kind: Task['kind']; waitMs: number; runMs: number }) => void;
  /** Told when a worker died with no task on it (the library starts another). */
  onWorkerError?: (err: Error) => void;
}

export interface PoolStats {
  runtime: UpdaterRuntime;
  workers: number;
  /** Workers running at least one task now. */
  busyWorkers: number;
  /** Tasks handed to the pool and not yet answered (running or queued). */
  inFlight: number;
  queued: number;
  maxQueue: number;
  completed: number;
  /** Tasks given up after UPDATER_TASK_TIMEOUT_MS. */
  abandoned: number;
  /** Workers killed for holding a task past the timeout. */
  killed: number;
  /** Workers that died with no task on them (and were replaced). */
  idleDeaths: number;
  /** Busy worker time over available worker time since the pool started (0..1). */
  utilization: number;
  /** Background tasks (pages, the index) waiting for a worker slot refreshes leave free. */
  backgroundWaiting: number;
}

export interface UpdaterPool {
  /**
   * Run one task. Rejects only with PoolFullError; every other failure is a
   * result: `worker-error` (its worker died, or the library failed it),
   * `pool-timeout` (abandoned), or the task's own code.
   */
  run<T extends Task>(task: T): Promise<ResultOf<T>>;
  /** Whether run() would be accepted now (a worker slot or queue room is free). */
  hasCapacity(): boolean;
  stats(): PoolStats;
  close(): Promise<void>;
}

/** Background tasks waiting at most; past it, a page is left to the repair. */
const BACKGROUND_WAITING_MAX = 10_000;

/**
 * Raised by run() when the pool already holds as many tasks as its workers and
 * queue take. Only the pool decides this: the libraries are given no queue
 * bound of their own, as their queue-full errors carry no code to tell them by.
 */
export class PoolFullError extends Error {
  readonly code = 'POOL_FULL';
  constructor(running: number, maxQueue: number) {
    super(`the updater pool is full: ${running} tasks running and ${maxQueue} waiting (UPDATER_MAX_QUEUE)`);
    this.name = 'PoolFullError';
  }
}

/**
 * What each runtime library provides, reduced to what the pool needs. Its run()
 * rejects only when the task's worker failed it (died, was killed, or the pool
 * is closing).
 */
export interface Backend {
  run(task: Task): Promise<TaskResult>;
  workers(): number;
  queued(): number;
  completed(): number;
  /** Stop a worker now; the library fails its tasks and starts a replacement. */
  kill(worker: number): void;
  close(): Promise<void>;
}

/** Makes a backend; it tells the pool when a task starts on a worker, and when an idle worker dies. */
export type BackendFactory = (o: PoolOptions, onStarted: (m: TaskStarted) => void, onError: (err: Error) => void) => Backend;

const TASK_MODULE = new URL('./updater.js', import.meta.url);

function piscinaBackend(o: PoolOptions, onStarted: (m: TaskStarted) => void, onError: (err: Error) => void): Backend {
  const pool = new Piscina<Task, TaskResult>({
    filename: (o.taskModule ?? TASK_MODULE).href,
    minThreads: o.minWorkers,
    maxThreads: o.maxWorkers,
    // Refreshes mostly wait on the upstream, so one worker runs several at once.
    // No per-task AbortSignal: Piscina gives those only to idle workers.
    concurrentTasksPerWorker: o.tasksPerWorker,
    idleTimeout: 30_000,
    // A runaway task (a huge record) kills its worker, not the server.
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, maxYoungGenerationSizeMb: 8 },
    // Piscina's default ('sync') freezes an idle worker's event loop: it then
    // never sees the upstream close a kept-alive connection, and the next fetch
    // fails on the dead socket (seen: 8 of 20 refreshes after 7 s idle).
    atomics: 'disabled',
  });
  pool.on('message', (m: unknown) => isTaskStarted(m) && onStarted(m));
  // A worker that dies with no task on it is reported here, not to a caller.
  pool.on('error', onError);
  return {
    run: (task) => pool.run(task),
    workers: () => pool.threads.length,
    queued: () => pool.queueSize,
    completed: () => pool.completed,
    kill: (worker) => void pool.threads.find((t) => t.threadId === worker)?.terminate(),
    close: () => pool.close({ force: true }),
  };
}

function tinypoolBackend(o: PoolOptions, onStarted: (m: TaskStarted) => void, onError: (err: Error) => void): Backend {
  const pool = new Tinypool({
    runtime: 'child_process',
    filename: (o.taskModule ?? TASK_MODULE).href,
    minThreads: o.minWorkers,
    maxThreads: o.maxWorkers,
    concurrentTasksPerWorker: o.tasksPerWorker,
    idleTimeout: 30_000,
    execArgv: [`--max-old-space-size=${WORKER_HEAP_MB}`],
    // V8's serializer, not JSON: a record crosses as its bytes, where JSON
    // escapes every quote of it on one side and scans it on the other (the
    // server's side is the main thread). See README, Threads or processes?
    serialization: 'advanced',
  });
  // A child that dies with no task on it (killed from outside, say) is reported
  // here; unheard, the event would end the server.
  pool.on('error', onError);
  // A child's own messages (not tinypool's) arrive on the task's channel.
  const channel = { postMessage: (m: unknown) => isTaskStarted(m) && onStarted(m) };
  let completed = 0;
  return {
    run: async (task) => {
      try {
        return ownBody((await pool.run(task, { channel })) as TaskResult);
      } finally {
        completed++;
      }
    },
    workers: () => pool.threads.length,
    queued: () => pool.queueSize,
    completed: () => completed,
    kill: (worker) => {
      try {
        process.kill(worker, 'SIGKILL');
      } catch {
        // Already gone.
      }
    },
    close: () => pool.destroy(),
  };
}

/**
 * A body that came through a child's IPC is a view into the whole message it
 * was read from (and tinypool's hand-off copies that whole buffer): the
 * memory tier, which counts a body's length, keeps bytes of its own.
 */
function ownBody(result: TaskResult): TaskResult {
  if (result.kind !== 'ok' || result.body.byteLength === result.body.buffer.byteLength) return result;
  const body = Buffer.allocUnsafeSlow(result.body.byteLength);
  body.set(result.body);
  return { ...result, body };
}

const BACKENDS = {
  thread: piscinaBackend,
  process: tinypoolBackend,
} satisfies Record<UpdaterRuntime, BackendFactory>;

interface Tracked {
  kind: Task['kind'];
  submittedAt: number;
  worker?: number;
  startedAt?: number;
}

/** The pool over the operator's runtime; the benchmark hands in its baselines' backends. */
export function createUpdaterPool(options: PoolOptions, makeBackend: BackendFactory = BACKENDS[options.runtime]): UpdaterPool {
  /** Tasks whose callers wait (for stats and timings); gone when answered or given up. */
  const tracked = new Map<number, Tracked>();
  /** Tasks not yet settled on their worker, each watched once it starts; a caller may have given up. */
  const watched = new Map<number, { timer?: NodeJS.Timeout }>();
  const perWorker = new Map<number, number>();
  let nextKey = 1;
  let inFlight = 0;
  let abandoned = 0;
  let killed = 0;
  const killing = new Set<number>();
  const startedAt = performance.now();
  let busyArea = 0; // busy workers × ms
  let lastChange = startedAt;
  const capacity = options.maxWorkers * options.tasksPerWorker;

  let workerErrors = 0;
  const backend = makeBackend(options, onStarted, (err) => {
    workerErrors++;
    options.onWorkerError?.(err);
  });

  function account(): void {
    const now = performance.now();
    busyArea += perWorker.size * (now - lastChange);
    lastChange = now;
  }

  function onStarted(m: TaskStarted): void {
    const w = watched.get(m.key);
    if (w && w.timer === undefined) {
      // A task running this long is hung (it bounds its own upstream wait, which
      // is shorter): its worker is replaced. Time spent queued does not count.
      w.timer = setTimeout(() => {
        // Each task on a hung worker has its watchdog: the worker is killed (and counted) once.
        if (killing.has(m.worker)) return;
        killing.add(m.worker);
        setTimeout(() => killing.delete(m.worker), options.taskTimeoutMs).unref();
        killed++;
        backend.kill(m.worker);
      }, options.taskTimeoutMs);
      w.timer.unref();
    }
    const t = tracked.get(m.key);
    if (!t) return; // its answer came first: nothing to count
    account();
    t.worker = m.worker;
    t.startedAt = m.at;
    perWorker.set(m.worker, (perWorker.get(m.worker) ?? 0) + 1);
  }

  function finish(key: number): void {
    const t = tracked.get(key);
    tracked.delete(key);
    if (!t) return;
    if (t.worker !== undefined && t.startedAt !== undefined) {
      account();
      const left = (perWorker.get(t.worker) ?? 1) - 1;
      if (left > 0) perWorker.set(t.worker, left);
      else perWorker.delete(t.worker);
      options.observe?.({ kind: t.kind, waitMs: Math.max(0, t.startedAt - t.submittedAt), runMs: Date.now() - t.startedAt });
    }
  }

  /** Tasks the libraries hold for callers that still wait (given-up ones end at once when they start). */
  const pending = () => watched.size - givenUp.size;
  const givenUp = new Set<number>();

  // Background work waits here, outside the libraries' queue, for a worker
  // slot that leaves one free for a miss (all of a pool of one), a few at a time.
  const waiting: Array<() => void> = [];
  let backgroundRunning = 0;
  const backgroundMax = Math.max(1, Math.floor(capacity / 2));
  const backgroundMayStart = () => backgroundRunning < backgroundMax && (capacity === 1 ? pending() === 0 : pending() + 1 < capacity);

  function startBackground(): void {
    while (waiting.length > 0 && backgroundMayStart()) {
      backgroundRunning++;
      (waiting.shift() as () => void)();
    }
  }

  async function run<T extends Task>(task: T): Promise<ResultOf<T>> {
    if (!BACKGROUND_KINDS.has(task.kind)) {
      if (!hasCapacity()) throw new PoolFullError(capacity, options.maxQueue);
      return dispatch(task);
    }
    if (waiting.length === 0 && backgroundMayStart()) backgroundRunning++;
    else {
      if (waiting.length >= BACKGROUND_WAITING_MAX) throw new PoolFullError(capacity, options.maxQueue);
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    try {
      return await dispatch(task);
    } finally {
      backgroundRunning--;
      startBackground();
    }
  }

  async function dispatch<T extends Task>(task: T): Promise<ResultOf<T>> {
    const key = nextKey++;
    tracked.set(key, { kind: task.kind, submittedAt: Date.now() });
    inFlight++;
    // A failure has the same shape in every kind of result.
    type Failed = ResultOf<T> & { kind: 'failed' };
    let timer: NodeJS.Timeout | undefined;
    // The caller waits at most UPDATER_TASK_TIMEOUT_MS, queue time included.
    const deadline = new Promise<ResultOf<T>>((resolve) => {
      timer = setTimeout(() => {
        abandoned++;
        // Still queued, perhaps: it no longer counts against the bound, and does nothing when it starts.
        if (watched.has(key)) givenUp.add(key);
        resolve({
          kind: 'failed',
          id: task.id,
          code: 'pool-timeout',
          message: `${task.kind} abandoned after ${options.taskTimeoutMs} ms (UPDATER_TASK_TIMEOUT_MS)`,
        } as Failed);
      }, options.taskTimeoutMs);
    });
    const attempt = () => backend.run({ ...task, trackKey: key, nice: options.nice, deadline: Date.now() + options.taskTimeoutMs }) as Promise<ResultOf<T>>;
    watched.set(key, {});
    const work = attempt()
      .catch((err: Error) => {
        // A task handed to a worker that died before starting it (a worker just
        // killed, say) never ran: it is safe to give it to another, once.
        const t = tracked.get(key); // gone once answered or abandoned
        if (t && t.worker === undefined) return attempt();
        throw err;
      })
      .catch((err: Error) => ({ kind: 'failed', id: task.id, code: 'worker-error', message: err.message }) as Failed)
      .finally(() => {
        clearTimeout(watched.get(key)?.timer);
        watched.delete(key);
        givenUp.delete(key);
        startBackground();
      });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
      finish(key);
      inFlight--;
    }
  }

  /**
   * A task counts until its worker is done with it, or its caller gives up (a
   * task given up does nothing when it starts): the libraries have no bound of
   * their own, so this is the queue's one bound. Background tasks waiting
   * for a slot do not count.
   */
  function hasCapacity(): boolean {
    return pending() < capacity + options.maxQueue;
  }

  return {
    run,
    hasCapacity,
    stats: () => {
      account();
      const elapsed = performance.now() - startedAt;
      return {
        runtime: options.runtime,
        workers: backend.workers(),
        busyWorkers: perWorker.size,
        inFlight,
        queued: backend.queued(),
        maxQueue: options.maxQueue,
        completed: backend.completed(),
        abandoned,
        killed,
        idleDeaths: workerErrors,
        utilization: elapsed > 0 ? Math.min(1, busyArea / (elapsed * options.maxWorkers)) : 0,
        backgroundWaiting: waiting.length,
      };
    },
    close: () => {
      // What still waits is let through to the closing pool, which fails it as a result.
      for (const go of waiting.splice(0)) go();
      return backend.close();
    },
  };
}
