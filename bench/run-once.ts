// One task in a process of its own: reads the task on stdin, runs the
// benchmark's task module, writes the result on stdout, exits. Both in V8's
// serialization, as a worker's messages are (a result carries its body's bytes). This is
// the `spawn` baseline's process (bench/baselines.ts): a process per refresh,
// each paying a whole Node start.
import { deserialize, serialize } from 'node:v8';
import run, { type BenchTask } from './ping-task.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const result = await run(deserialize(Buffer.concat(chunks)) as BenchTask);
process.stdout.write(serialize(result));
