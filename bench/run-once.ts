// One task in a process of its own: reads the task as JSON on stdin, runs the
// benchmark's task module, writes the result as JSON on stdout, exits. This is
// the `spawn` baseline's process (bench/baselines.ts): a process per refresh,
// each paying a whole Node start.
import run, { type BenchTask } from './ping-task.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const result = await run(JSON.parse(Buffer.concat(chunks).toString('utf8')) as BenchTask);
process.stdout.write(JSON.stringify(result));
