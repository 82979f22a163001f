// Shared pieces of the benchmark: starting the measured servers as processes
// of their own, running the load generator (autocannon, in processes of its
// own too, kept for the run), and the statistics.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Running {
  child: ChildProcess;
  /** The first group of the ready pattern (usually the URL). */
  ready: string;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * CPU time (ms) a process's main thread has used: Linux's per-thread
 * schedstat, in nanoseconds (the thread whose id is the pid runs JavaScript's
 * event loop; worker threads are other tasks of the process).
 */
export function mainThreadCpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

/** Start `node <script>` and wait (bounded) for a line matching `readyPattern`. */
export async function startNode(
  script: string,
  args: string[],
  env: Record<string, string>,
  readyPattern: RegExp,
  timeoutMs = 30_000,
  /** Node's own flags (--cpu-prof, which NODE_OPTIONS does not take). */
  nodeArgs: string[] = [],
): Promise<Running> {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const onData = (d: Buffer) => {
    if (output.length < 1_000_000) output += d.toString();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const deadline = performance.now() + timeoutMs;
  let ready: string | undefined;
  while (ready === undefined) {
    ready = readyPattern.exec(output)?.[1];
    if (ready !== undefined) break;
    if (child.exitCode !== null) {
      // Its last words may have come with the exit.
      await new Promise((r) => setTimeout(r, 50));
      ready = readyPattern.exec(output)?.[1];
      if (ready !== undefined) break;
      throw new Error(`${script} exited: ${output.slice(-2000)}`);
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} did not start in ${timeoutMs} ms: ${output.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    child,
    ready,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export interface LoadOptions {
  url: string;
  /** Paths picked at random per request. */
  paths: string[];
  connections: number;
  seconds: number;
  /** Requests per second over all connections (a fixed-rate load); unset: as fast as possible. */
  rate?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  non2xx: number;
}

/** Load generators not running a job: each is one process, reused. */
const idleGenerators = new Set<ChildProcess>();

function newGenerator(): ChildProcess {
  const generator = fork(join(ROOT, 'dist/bench/load.js'), [], { cwd: ROOT, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // One that dies idle is not handed a job.
  generator.once('exit', () => idleGenerators.delete(generator));
  // A send to one that just died is reported here; its job fails on its exit.
  generator.on('error', () => undefined);
  return generator;
}

/** One autocannon run, in a process of its own (one per run at once). */
export async function load(options: LoadOptions): Promise<LoadResult> {
  let generator = [...idleGenerators].find((g) => g.connected);
  if (generator) idleGenerators.delete(generator);
  else generator = newGenerator();
  const g = generator;
  g.ref();
  (g.channel as { ref?: () => void } | undefined)?.ref?.();
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await new Promise<{ summary?: LoadResult; error?: string }>((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`load: the generator exited (${code})`));
      timer = setTimeout(() => reject(new Error(`load: no result in ${options.seconds + 30} s`)), (options.seconds + 30) * 1000);
      g.once('exit', exited);
      g.once('message', (m: { summary?: LoadResult; error?: string }) => {
        g.off('exit', exited);
        resolve(m);
      });
      g.send(options);
    });
    if (answer.error !== undefined || answer.summary === undefined) throw new Error(`load: ${answer.error ?? 'no summary'}`);
    // Idle, it does not keep the benchmark's process alive (it leaves when that goes).
    g.unref();
    (g.channel as { unref?: () => void } | undefined)?.unref?.();
    idleGenerators.add(g);
    return answer.summary;
  } catch (err) {
    g.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export const median = (values: number[]) => percentile(values, 50);

/** Run a measurement n times; the median of each numeric field. */
export async function medianOf<T extends Record<string, number>>(n: number, measure: () => Promise<T>): Promise<T> {
  const runs: T[] = [];
  for (let i = 0; i < n; i++) runs.push(await measure());
  const first = runs[0] as T;
  return Object.fromEntries(Object.keys(first).map((k) => [k, median(runs.map((r) => r[k] as number))])) as T;
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Ratios taken round by round (A, B, A, B …, each B over the A beside it):
 * their median and spread. On a shared machine drift moves both sides of a
 * round alike, where a ratio of two medians would carry it.
 */
export function pairwise(numerators: number[], denominators: number[], digits = 3): { median: number; min: number; max: number; rounds: number[] } {
  const rounds = numerators.map((n, i) => n / (denominators[i] as number));
  return {
    median: round(median(rounds), digits),
    min: round(Math.min(...rounds), digits),
    max: round(Math.max(...rounds), digits),
    rounds: rounds.map((r) => round(r, digits)),
  };
}
