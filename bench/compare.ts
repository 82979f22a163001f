// The hit path of this tree against another revision of freshen, measured
// with wrk in interleaved rounds (old, new, old, new …) on the same machine,
// the same demo upstream and the same 50 hot entries of ~1 KB: what a change
// moved, as a ratio per round and its spread.
//
//   npm run bench:compare -- <git revision> [--rounds N] [--seconds S] [--connections C]
//
// The revision is checked out into a temporary worktree and built with this
// tree's compiler and node_modules; both run as bench/freshen-server.js.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/support/free-port.js';
import { hitIds } from './http-sections.js';
import { median, pairwise, round, ROOT, startNode, type Running } from './lib.js';
import { hasWrk, wrk } from './wrk.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string', default: '6' }, seconds: { type: 'string', default: '4' }, connections: { type: 'string', default: '50' } },
});
const revision = positionals[0];
if (revision === undefined) {
  process.stderr.write('usage: npm run bench:compare -- <git revision> [--rounds N] [--seconds S] [--connections C]\n');
  process.exit(2);
}
if (!hasWrk()) {
  process.stderr.write('wrk is not installed: apt-get install -y wrk\n');
  process.exit(2);
}
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const connections = Number(values.connections);

const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
const commit = git('rev-parse', '--verify', `${revision}^{commit}`);
const worktree = mkdtempSync(join(tmpdir(), 'freshen-compare-'));
const running: Running[] = [];

async function startFreshen(root: string, upstream: string): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'freshen-compare-data-'));
  const server = await startNode(
    join(root, 'dist/bench/freshen-server.js'),
    ['thread'],
    {
      PORT: '0',
      UPSTREAM_URL: upstream,
      DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
      PUBLISH_DIR: join(dir, 'pages'),
      LOG_FILE: join(dir, 'access.log'),
      LOG_LEVEL: 'warn',
      ENTRY_TTL_SECONDS: '86400',
      PUBLISH_INDEX_SECONDS: '3600',
    },
    /^READY (\S+)$/m,
  );
  running.push(server);
  return { ...server, stop: async () => (await server.stop(), rmSync(dir, { recursive: true, force: true })) };
}

try {
  process.stdout.write(`building ${revision} (${commit.slice(0, 10)}) in ${worktree}\n`);
  git('worktree', 'add', '--detach', worktree, commit);
  symlinkSync(join(ROOT, 'node_modules'), join(worktree, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: worktree, stdio: 'inherit' });

  const port = await freePort();
  const demo = await startNode('dist/demo/main.js', [], { DEMO_PORT: String(port) }, /upstream: (\S+)/);
  running.push(demo);
  const upstream = demo.ready;
  const servers = { old: await startFreshen(worktree, upstream), new: await startFreshen(ROOT, upstream) };
  const paths = hitIds().slice(0, 50).map((id) => `/entries/${id}`);
  // Every entry stored and in memory, then a short warm-up of each (JIT).
  for (const server of Object.values(servers)) {
    for (const path of paths) for (let i = 0; i < 2; i++) await (await fetch(server.ready + path)).arrayBuffer();
    await wrk(server.ready, paths, { connections, seconds: 1 });
  }
  const rps: Record<'old' | 'new', number[]> = { old: [], new: [] };
  const rows: string[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const side of ['old', 'new'] as const) {
      const result = await wrk(servers[side].ready, paths, { connections, seconds });
      if (result.errors > 0) throw new Error(`${side}: ${result.errors} errors in round ${r + 1}`);
      rps[side].push(result.rps);
    }
    rows.push(`| ${r + 1} | ${Math.round(rps.old[r] as number)} | ${Math.round(rps.new[r] as number)} | ${round((rps.new[r] as number) / (rps.old[r] as number), 3)} |`);
  }
  const ratio = pairwise(rps.new, rps.old);
  const table = [
    `hit path, wrk -t1 -c${connections}, ${rounds} interleaved rounds of ${seconds} s: ${revision} (${commit.slice(0, 10)}) against this tree`,
    '',
    '| round | old req/s | new req/s | new ÷ old |',
    '| --- | --- | --- | --- |',
    ...rows,
    `| median | ${Math.round(median(rps.old))} | ${Math.round(median(rps.new))} | ${ratio.median} (${ratio.min}–${ratio.max}) |`,
  ].join('\n');
  process.stdout.write(`\n${table}\n`);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(
    join(ROOT, 'bench/results/compare-latest.json'),
    `${JSON.stringify({ revision, commit, connections, seconds, rounds, rps, ratio, at: new Date().toISOString() }, null, 2)}\n`,
  );
} finally {
  for (const r of running.toReversed()) await r.stop();
  try {
    git('worktree', 'remove', '--force', worktree);
  } catch {
    rmSync(worktree, { recursive: true, force: true });
  }
}
