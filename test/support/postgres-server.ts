// A throwaway Postgres server from Debian's postgresql package: initdb and
// pg_ctl in a temporary directory, on a free loopback port. The test runner
// starts one for the Postgres half of the suite; a test that must stop and
// start its database (an outage) starts one of its own.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface PostgresServer {
  /** The admin URL (user postgres, database postgres). */
  url: string;
  port: number;
  /** Stops the server at once, as a crash would (connections dropped). */
  stop(): void;
  /** Starts it again on the same port and data. */
  start(): void;
  /** Stops it and removes its files. */
  destroy(): void;
}

/** The bin directory of the newest installed Postgres, if any. */
export function findPostgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .toSorted((a, b) => Number(b) - Number(a));
  return versions[0] && join(base, versions[0], 'bin');
}

/**
 * `listen`: addresses to listen on besides 127.0.0.1, and `trust`: a subnet
 * whose clients may connect (a fleet test's nodes in their namespaces).
 */
export async function startPostgresServer(
  bin = findPostgresBin(),
  options: { listen?: readonly string[]; trust?: string } = {},
): Promise<PostgresServer> {
  if (!bin) throw new Error('Postgres is not installed: apt-get install -y postgresql');
  const dir = mkdtempSync(join(tmpdir(), 'freshen-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  // initdb refuses to run as root: run the server as the postgres user then.
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(uid.stdout.trim()), Number(gid.stdout.trim()));
  }
  const run = (cmd: string, args: string[]): SpawnSyncReturns<string> => {
    const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    const r = spawnSync(command, argv, { encoding: 'utf8', timeout: 90_000 });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
    return r;
  };
  // fsync off: the machine does not crash in a test. Commits still reach the
  // OS before they return (synchronous_commit stays on), so a stop "as a
  // crash" keeps every commit, as a real server's crash does (with it off, a
  // stop just after start lost the migrations: "relation entries does not exist").
  const start = () =>
    run('pg_ctl', [
      '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60',
      '-o', `-p ${port} -k ${dir} -c listen_addresses=${['127.0.0.1', ...(options.listen ?? [])].join(',')} -c fsync=off -c max_connections=200`,
      'start',
    ]);
  const stop = () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  if (options.trust) appendFileSync(join(data, 'pg_hba.conf'), `host all all ${options.trust} trust\n`);
  start();
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop() {
      stop();
      running = false;
    },
    start() {
      start();
      running = true;
    },
    destroy() {
      try {
        if (running) stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
