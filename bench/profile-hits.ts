// Where a hit's time goes: freshen as the bench runs it, under wrk on 50 hot
// entries (or spread over stored ones: `--cold`), with V8's CPU profiler on
// its main thread; prints the functions with the most self time and the
// microseconds of CPU per request.
//
//   npm run bench:profile [-- --cold] [--seconds S]
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../db/knex.js';
import { hitIds, prefill, startDemo, startFreshen } from './http-sections.js';
import { mainThreadCpuMs } from './lib.js';
import { seedEntries } from './seed.js';
import { hasWrk, wrk } from './wrk.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values } = parseArgs({ options: { cold: { type: 'boolean', default: false }, seconds: { type: 'string', default: '8' } } });
if (!hasWrk()) {
  process.stderr.write('wrk is not installed: apt-get install -y wrk\n');
  process.exit(2);
}
const seconds = Number(values.seconds);
const dir = mkdtempSync(join(tmpdir(), 'freshen-profile-'));
const demo = await startDemo(0);
try {
  const env: Record<string, string> = {};
  const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'prof')}`];
  let paths: string[];
  if (values.cold) {
    // 20k stored entries and a memory tier of a tenth of them: most reads come from the copy.
    const file = join(dir, 'cold.sqlite');
    const db = openDatabase({ client: 'sqlite', url: `sqlite:${file}`, filename: file });
    const ids = await seedEntries(db, 20_000, 'c');
    await db.destroy();
    Object.assign(env, { DATABASE_URL: `sqlite:${file}`, MEMORY_TIER_MAX_BYTES: String(2_000 * 1300) });
    paths = ids.map((id) => `/entries/${id}`);
  } else {
    paths = hitIds()
      .slice(0, 50)
      .map((id) => `/entries/${id}`);
  }
  const freshen = await startFreshen(demo.ready, 'thread', env, nodeArgs);
  let requests = 0;
  let cpuMs = 0;
  try {
    if (!values.cold) await prefill(freshen.ready, paths.map((p) => p.slice('/entries/'.length)));
    await wrk(freshen.ready, paths, { connections: 50, seconds: 1 });
    const before = mainThreadCpuMs(freshen.child.pid as number);
    const result = await wrk(freshen.ready, paths, { connections: 50, seconds });
    cpuMs = mainThreadCpuMs(freshen.child.pid as number) - before;
    requests = result.requests;
    process.stdout.write(`${Math.round(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms; main thread ${((cpuMs * 1000) / requests).toFixed(1)} µs of CPU a request\n`);
  } finally {
    await freshen.stop();
  }
  // The main thread's profile: the one of thread 0.
  const file = readdirSync(join(dir, 'prof')).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (!file) throw new Error('no profile of the main thread was written');
  const profile = JSON.parse(readFileSync(join(dir, 'prof', file), 'utf8')) as Profile;
  const self = new Map<number, number>();
  profile.samples.forEach((node, i) => self.set(node, (self.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = self.get(node.id) ?? 0;
    total += us;
    const where = node.callFrame.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*\/dist\//, '') || '(native)';
    const key = `${node.callFrame.functionName || '(anonymous)'} ${where}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const busy = total - (byFunction.get('(idle) (native):0') ?? 0);
  process.stdout.write(`\nself time on the main thread, ${(busy / 1000).toFixed(0)} ms busy (idle left out):\n`);
  for (const [key, us] of [...byFunction].filter(([k]) => !k.startsWith('(idle)')).toSorted((a, b) => b[1] - a[1]).slice(0, 25)) {
    process.stdout.write(`${((us / busy) * 100).toFixed(1).padStart(5)} %  ${((us / requests) * 1).toFixed(2).padStart(6)} µs/req  ${key}\n`);
  }
} finally {
  await demo.stop();
  rmSync(dir, { recursive: true, force: true });
}
