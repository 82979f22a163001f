// One task in a process of its own: reads the task as JSON on stdin, runs the
// updater task module, writes the result as JSON on stdout, exits. This is the
// "spawn a process per refresh" runtime — a baseline for the benchmark, not a
// choice for operators (each task pays a whole Node start).
import run from './updater.js';
import type { Task } from './protocol.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const result = await run(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Task);
process.stdout.write(JSON.stringify(result));
