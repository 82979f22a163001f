// `npm test`: runs the whole mocha suite on SQLite, then on Postgres — a
// throwaway server started here from Debian's postgresql (or the server named
// by TEST_DATABASE_URL) — each with the updater on worker threads and on child
// processes. Extra arguments go to mocha (e.g. --grep lease).
// TEST_DATABASES=sqlite|postgres and TEST_RUNTIMES=thread|process narrow it.
import { spawn } from 'node:child_process';
import { findPostgresBin, startPostgresServer } from './postgres-server.js';

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
      const server = await startPostgresServer(bin);
      process.stdout.write(`started a throwaway Postgres on 127.0.0.1:${server.port}\n`);
      url = server.url;
      stop = () => server.destroy();
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
