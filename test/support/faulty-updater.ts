// The real updater task module, made to misbehave on purpose, for the tests of
// worker faults. A record with `"fault": "crash"` kills its worker (thread or
// process) mid-refresh; `"fault": "hang"` spins its worker forever; `"fault":
// "exit-when-idle"` lets the refresh and the page through, then its worker
// leaves a mark (the record's `mark` file) and dies with nothing to do;
// `"fault": "throw"` makes the task throw (its worker lives on); `"fault":
// "oom"` fills its worker's heap until the worker runs out of memory.
import { writeFileSync } from 'node:fs';
import { valueSymbol } from 'piscina';
import { recordBytes } from '../../shared/answer-body.js';
import run, { reportStart } from '../../workers/updater.js';
import type { Task, TaskResult } from '../../workers/protocol.js';

interface Faults {
  fault?: string;
  mark?: string;
}

export default async function faulty(task: Task): Promise<TaskResult> {
  if (task.trackKey !== undefined) reportStart(task.trackKey);
  const result = await run({ ...task, trackKey: undefined });
  if (task.kind === 'publish' && task.record !== null) {
    const { fault, mark } = JSON.parse(Buffer.from(task.record).toString()) as Faults;
    if (fault === 'exit-when-idle') {
      // The page is its last task: once it is answered, the worker is idle.
      setTimeout(() => {
        if (mark) writeFileSync(mark, String(process.pid));
        process.exit(70);
      }, 50);
    }
    return result;
  }
  // On a worker thread the result comes marked to be moved: the result itself is inside.
  const value = ((result as unknown as Record<symbol, unknown>)[valueSymbol] ?? result) as TaskResult;
  const fault = value.kind === 'ok' ? (JSON.parse(recordBytes(value).toString()) as Faults).fault : undefined;
  if (fault === 'crash') process.exit(70);
  if (fault === 'throw') throw new Error('the updater task failed on purpose');
  if (fault === 'oom') {
    // Arrays of doubles: 8 MB each, on the heap the worker's limit bounds.
    const held: number[][] = [];
    for (;;) held.push(Array.from({ length: 1_000_000 }, () => 0.5));
  }
  if (fault !== 'hang') return result;
  // A real hang: the worker's event loop never turns again.
  for (;;) {
    // spin
  }
}
