// A PgBouncer in front of a test Postgres (Debian's pgbouncer, 1.18 on
// Debian 12), in transaction mode as managed set-ups run it: a server
// connection is a client's only for one transaction, it passes no LISTEN
// notices on, and it refuses start-up parameters it does not know. It
// refuses to run as root: as root it runs as the postgres user.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { waitFor } from './wait.js';

export const PGBOUNCER = '/usr/sbin/pgbouncer';

export interface PgBouncer {
  /** The pooler's URL for the server's postgres database, on `host`. */
  url: string;
  port: number;
  log(): string;
  stop(): Promise<void>;
}

/** `server`: the Postgres port on 127.0.0.1; `listen`: the address the pooler listens on. */
export async function startPgBouncer(server: { port: number }, listen = '127.0.0.1'): Promise<PgBouncer> {
  const dir = mkdtempSync(join(tmpdir(), 'freshen-pgbouncer-'));
  const port = await freePort();
  writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=127.0.0.1 port=${server.port}`,
      '[pgbouncer]',
      `listen_addr = ${listen}`,
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'max_client_conn = 500',
      'default_pool_size = 40',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  // pgbouncer will not run as root: there it runs as postgres, spawned as that
  // user directly (not through runuser, which left it running when stopped).
  let user: { uid: number; gid: number } | undefined;
  if (userInfo().uid === 0) {
    const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
    for (const f of ['', 'users.txt', 'pgbouncer.ini']) chownSync(join(dir, f), uid, gid);
    user = { uid, gid };
  }
  const child: ChildProcess = spawn(PGBOUNCER, [join(dir, 'pgbouncer.ini')], { stdio: 'ignore', ...user });
  const log = () => {
    try {
      return readFileSync(join(dir, 'pgbouncer.log'), 'utf8');
    } catch {
      return '';
    }
  };
  await waitFor(() => log().includes('process up') || child.exitCode !== null, 'pgbouncer to start', 10_000);
  if (child.exitCode !== null) throw new Error(`pgbouncer exited: ${log().slice(-1000)}`);
  return {
    url: `postgres://postgres@${listen}:${port}/postgres`,
    port,
    log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await waitFor(() => child.exitCode !== null || child.signalCode !== null, 'pgbouncer to stop', 10_000).catch(() => child.kill('SIGKILL'));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
