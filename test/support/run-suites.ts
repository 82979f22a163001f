// `npm test`: runs the whole mocha suite on SQLite, then on Postgres — a
// throwaway server started here from Debian's postgresql (or the server named
// by TEST_DATABASE_URL) — each with the updater on worker threads and on child
// processes. Extra arguments go to mocha (e.g. --grep lease).
// TEST_DATABASES=sqlite|postgres and TEST_RUNTIMES=thread|process narrow it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, chownSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

const mochaArgs = process.argv.slice(2);
const which = process.env.TEST_DATABASES ?? 'sqlite,postgres';
const runtimes = (process.env.TEST_RUNTIMES ?? 'thread,process').split(',').filter((r) => r === 'thread' || r === 'process');
const failures: string[] = [];

/** The suite on one database, once per updater runtime. */
async function runSuites(database: string, env: NodeJS.ProcessEnv): Promise<void> {
  for (const runtime of runtimes) {
    const label = `${database}, ${runtime} runtime`;
    if ((await runMocha(label, { ...env, TEST_UPDATER_RUNTIME: runtime })) !== 0) failures.push(label);
  }
}

function runMocha(label: string, env: NodeJS.ProcessEnv): Promise<number> {
  process.stdout.write(`\n=== suite on ${label} ===\n`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/mocha/bin/mocha.js', ...mochaArgs], {
      stdio: 'inherit',
      env: { ...process.env, ...env },
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

function findPostgresBin(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .toSorted((a, b) => Number(b) - Number(a));
  return versions[0] && join(base, versions[0], 'bin');
}

/** initdb + pg_ctl start in a temporary directory; returns the admin URL and a stop function. */
async function startThrowawayPostgres(bin: string): Promise<{ url: string; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'freshen-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  // initdb refuses to run as root: run the server as the postgres user then.
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(pw.stdout.trim()), Number(gid.stdout.trim()));
  }
  const run = (cmd: string, args: string[]) => {
    const full = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    const r = spawnSync(full[0] as string, full[1] as string[], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  run('pg_ctl', [
    '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60',
    '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200`,
    'start',
  ]);
  process.stdout.write(`started a throwaway Postgres on 127.0.0.1:${port} (${dir})\n`);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

async function main(): Promise<number> {
  if (which.includes('sqlite')) await runSuites('SQLite', { TEST_DATABASE_URL: '' });
  if (which.includes('postgres')) {
    let url = process.env.TEST_DATABASE_URL;
    let stop: (() => void) | undefined;
    if (!url) {
      const bin = findPostgresBin();
      if (!bin) {
        process.stderr.write(
          '\nPostgres is not installed, so the Postgres half of the suite did not run.\n' +
            'Install it with `apt-get install -y postgresql` (or set TEST_DATABASE_URL).\n',
        );
        return process.env.CI ? 1 : failures.length > 0 ? 1 : 0;
      }
      ({ url, stop } = await startThrowawayPostgres(bin));
    }
    try {
      await runSuites('Postgres', { TEST_DATABASE_URL: url });
    } finally {
      stop?.();
    }
  }
  if (failures.length > 0) process.stderr.write(`\nthe suite failed on: ${failures.join(', ')}\n`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
