// The real updater task module, made to misbehave on purpose, for the tests of
// worker faults: a record with `"fault": "crash"` kills its worker (thread or
// process) mid-task; `"fault": "hang"` spins its worker forever.
import run, { reportStart } from '../../workers/updater.js';
import type { PublishResult, RefreshResult, Task } from '../../workers/protocol.js';

export default async function faulty(task: Task): Promise<RefreshResult | PublishResult> {
  if (task.trackKey !== undefined) reportStart(task.trackKey);
  const result = await run({ ...task, trackKey: undefined });
  const fault = result.kind === 'ok' ? (JSON.parse(result.record) as { fault?: string }).fault : undefined;
  if (fault === undefined) return result;
  if (fault === 'crash') process.exit(70);
  // A real hang: the worker's event loop never turns again.
  for (;;) {
    // spin
  }
}
