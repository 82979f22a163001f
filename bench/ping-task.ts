// The pool task module the benchmark runs: the updater's tasks, plus a `ping`
// that does nothing, so a round trip through the pool can be timed on its own.
// Operators' pools run workers/updater.ts, which knows no ping.
import run, { beginTask } from '../workers/updater.js';
import type { PublishResult, PublishTask, Task, TaskResult } from '../workers/protocol.js';

export const PING_TASK_MODULE = new URL('./ping-task.js', import.meta.url);

interface PingTask {
  kind: 'ping';
  id: 'ping';
  trackKey?: number;
  nice?: number;
}

export type BenchTask = Task | PingTask;

/**
 * The pool's types know only the updater's tasks; a ping is answered as a page
 * task is (a PublishResult), so it passes for one on the main thread's side.
 */
export const PING = { kind: 'ping', id: 'ping' } as unknown as PublishTask;

const PONG: PublishResult = { kind: 'published', id: 'ping', bytes: 0 };

export default function runTask(task: BenchTask): Promise<TaskResult> {
  if (task.kind !== 'ping') return run(task);
  // Begun like any task, so the pool's tracking is part of the round trip.
  beginTask(task);
  return Promise.resolve(PONG);
}
