// What the suite (and the benchmark) need from Debian beside Node and npm, in
// one list each: each need is a program (or file) and the package that brings
// it. Before the suite runs, whatever is missing is installed with apt-get
// when this runs as root; otherwise the one command to run is printed and the
// suite does not start (a suite that skipped its Postgres half would pass on less).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { findPostgresBin } from './postgres-server.js';

interface Need {
  pkg: string;
  /** What needs it. */
  why: string;
  present(): boolean;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const POSTGRES: Need = { pkg: 'postgresql', why: 'the Postgres half of the suite and the fleet tests', present: () => findPostgresBin() !== undefined };

const NEEDS: readonly Need[] = [
  POSTGRES,
  { pkg: 'chromium', why: 'the status page, opened in a real browser', present: () => existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium') },
  { pkg: 'faketime', why: 'the fleet node whose clock is off', present: () => onPath('faketime') },
  { pkg: 'util-linux', why: 'the fleet node with a long host name (unshare --uts)', present: () => onPath('unshare') },
  { pkg: 'iproute2', why: 'fleet nodes in network namespaces of their own (ip netns)', present: () => onPath('ip') },
  { pkg: 'iptables', why: "the fleet node whose packets to the database are dropped", present: () => onPath('iptables') || existsSync('/usr/sbin/iptables') },
  { pkg: 'pgbouncer', why: 'the fleet behind a pooler in transaction mode', present: () => existsSync('/usr/sbin/pgbouncer') },
  { pkg: 'prometheus', why: 'the shipped alerting rules, checked and unit-tested with promtool', present: () => onPath('promtool') },
];

/** The benchmark's: wrk measures HTTP throughput (a Node generator tops out below a hit's rate), nginx and Postgres are peers. */
export const BENCH_NEEDS: readonly Need[] = [
  { pkg: 'wrk', why: 'HTTP throughput in the benchmark', present: () => onPath('wrk') },
  { pkg: 'nginx', why: "the benchmark's proxy_cache peer", present: () => onPath('nginx') || existsSync('/usr/sbin/nginx') },
  POSTGRES,
];

/** Installs what is missing (as root) or says how; false when the suite cannot run. */
export function ensureSystemPackages(log: (line: string) => void, needs: readonly Need[] = NEEDS): boolean {
  const missing = needs.filter((n) => !n.present());
  if (missing.length === 0) return true;
  const pkgs = missing.map((n) => n.pkg);
  for (const n of missing) log(`missing: ${n.pkg}, for ${n.why}`);
  const command = `apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    log(`install them with:\n  sudo ${command}\nthen run the tests again.`);
    return false;
  }
  log(`installing: ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...pkgs]]) {
    const run = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (run.status !== 0) {
      log(`apt-get ${args[0]} failed (exit ${run.status ?? run.signal}); install them with:\n  ${command}`);
      return false;
    }
  }
  const still = needs.filter((n) => !n.present()).map((n) => n.pkg);
  if (still.length > 0) log(`still missing after apt-get: ${still.join(' ')}`);
  return still.length === 0;
}
