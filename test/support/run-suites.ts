// `npm test`: installs the Debian packages the suite needs when they are
// missing (system-packages.ts), then runs the whole mocha suite on SQLite, then
// on Postgres — a throwaway server started here from Debian's postgresql (or
// the server named by TEST_DATABASE_URL) — each with the updater on worker
// threads and on child processes. Extra arguments go to mocha (e.g. --grep lease).
// TEST_DATABASES=sqlite|postgres and TEST_RUNTIMES=thread|process narrow it.
import { spawn } from 'node:child_process';
import { findPostgresBin, startPostgresServer } from './postgres-server.js';
import { ensureSystemPackages } from './system-packages.js';

const mochaArgs = process.argv.slice(2);
const which = process.env.TEST_DATABASES ?? 'sqlite,postgres';
const runtimes = (process.env.TEST_RUNTIMES ?? 'thread,process').split(',').filter((r) => r === 'thread' || r === 'process');
const failures: string[] = [];
// Test files that depend on neither the database nor the updater runtime (or
// try every runtime themselves) run in the first pass only.
const ONE_PASS = ['alert-rules', 'config', 'dashboard-queries', 'freshness-decision', 'history', 'memory-tier', 'notice-durability', 'openapi-lint', 'project-layout', 'result-body', 'settings-table', 'sources-file', 'status-page', 'tags'];
let passes = 0;

/** The suite on one database, once per updater runtime. */
async function runSuites(database: string, env: NodeJS.ProcessEnv): Promise<void> {
  for (const runtime of runtimes) {
    const label = `${database}, ${runtime} runtime`;
    if ((await runMocha(label, { ...env, TEST_UPDATER_RUNTIME: runtime })) !== 0) failures.push(label);
  }
}

function runMocha(label: string, env: NodeJS.ProcessEnv): Promise<number> {
  process.stdout.write(`\n=== suite on ${label} ===\n`);
  const ignored = passes++ === 0 ? [] : ONE_PASS.flatMap((name) => ['--ignore', `dist/test/${name}.test.js`]);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/mocha/bin/mocha.js', ...ignored, ...mochaArgs], {
      stdio: 'inherit',
      env: { ...process.env, ...env },
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(): Promise<number> {
  if (!ensureSystemPackages((line) => process.stderr.write(`${line}\n`))) return 1;
  if (which.includes('sqlite')) await runSuites('SQLite', { TEST_DATABASE_URL: '' });
  if (which.includes('postgres')) {
    let url = process.env.TEST_DATABASE_URL;
    let stop: (() => void) | undefined;
    if (!url) {
      const server = await startPostgresServer(findPostgresBin());
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
