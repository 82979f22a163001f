// Where a hit's time goes: freshen as the bench runs it, under wrk on 50 hot
// entries (or spread over stored ones: `--cold`), with V8's CPU profiler on
// its main thread; prints the functions with the most self time and the
// microseconds of CPU per request. `--storm`: the isolation section's storm of
// refreshes of large records instead, per refresh.
//
//   npm run bench:profile [-- --cold | --storm] [--seconds S] [--save FILE (the profile, for DevTools)]
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openDatabase } from '../db/knex.js';
import { largeDemoIds } from '../demo/data.js';
import { hitIds, prefill, startDemo, startFreshen, STORM_RATE, TOKEN } from './http-sections.js';
import { load, mainThreadCpuMs } from './lib.js';
import { seedEntries } from './seed.js';
import { hasWrk, wrk } from './wrk.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values } = parseArgs({ options: { cold: { type: 'boolean', default: false }, storm: { type: 'boolean', default: false }, save: { type: 'string' }, seconds: { type: 'string', default: '8' } } });
if (!hasWrk()) {
  process.stderr.write('wrk is not installed: apt-get install -y wrk\n');
  process.exit(2);
}
const seconds = Number(values.seconds);
const now = () => Number(process.hrtime.bigint() / 1000n);
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
  if (values.storm) {
    paths = largeDemoIds().map((id) => `/entries/${id}`);
    // As the isolation section runs it: one worker, a short queue.
    Object.assign(env, { UPDATER_MIN_WORKERS: '1', UPDATER_MAX_WORKERS: '1', UPDATER_MAX_QUEUE: '8' });
  }
  const freshen = await startFreshen(demo.ready, 'thread', env, nodeArgs);
  let requests = 0;
  let cpuMs = 0;
  // The measured window on the monotonic clock V8's profiler stamps samples with (µs): start-up is left out.
  const window = { from: 0, to: 0 };
  try {
    if (!values.cold) await prefill(freshen.ready, paths.map((p) => p.slice('/entries/'.length)));
    const pid = freshen.child.pid as number;
    if (values.storm) {
      const refreshed = async () => Number(/^freshen_refreshes_total\{outcome="ok"\} (\d+)/m.exec(await (await fetch(`${freshen.ready}/metrics`)).text())?.[1] ?? 0);
      const r0 = await refreshed();
      const before = mainThreadCpuMs(pid);
      window.from = now();
      await load({
        url: freshen.ready,
        paths: paths.map((p) => `${p}/refresh`),
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        connections: 4,
        rate: STORM_RATE,
        seconds,
      });
      window.to = now();
      cpuMs = mainThreadCpuMs(pid) - before;
      requests = (await refreshed()) - r0;
      process.stdout.write(`${requests} refreshes in ${seconds} s; main thread ${((cpuMs * 1000) / requests).toFixed(1)} µs of CPU a refresh (its admin POST included)\n`);
    } else {
      await wrk(freshen.ready, paths, { connections: 50, seconds: 1 });
      const before = mainThreadCpuMs(pid);
      window.from = now();
      const result = await wrk(freshen.ready, paths, { connections: 50, seconds });
      window.to = now();
      cpuMs = mainThreadCpuMs(pid) - before;
      requests = result.requests;
      process.stdout.write(`${Math.round(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms; main thread ${((cpuMs * 1000) / requests).toFixed(1)} µs of CPU a request\n`);
    }
  } finally {
    await freshen.stop();
  }
  // The main thread's profile: the one of thread 0.
  const file = readdirSync(join(dir, 'prof')).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (!file) throw new Error('no profile of the main thread was written');
  if (values.save) copyFileSync(join(dir, 'prof', file), values.save);
  const profile = JSON.parse(readFileSync(join(dir, 'prof', file), 'utf8')) as Profile;
  const self = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((node, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= window.from && at <= window.to) self.set(node, (self.get(node) ?? 0) + delta);
  });
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
  process.stdout.write(`\nself time on the main thread while measured, ${(busy / 1000).toFixed(0)} ms busy (idle left out):\n`);
  for (const [key, us] of [...byFunction].filter(([k]) => !k.startsWith('(idle)')).toSorted((a, b) => b[1] - a[1]).slice(0, 25)) {
    process.stdout.write(`${((us / busy) * 100).toFixed(1).padStart(5)} %  ${((us / requests) * 1).toFixed(2).padStart(6)} µs/${values.storm ? 'refresh' : 'req'}  ${key}\n`);
  }
} finally {
  await demo.stop();
  rmSync(dir, { recursive: true, force: true });
}
