// The command line, as an operator meets it: the real compiled entry
// (node dist/server/main.js) in a child process — refusing a bad setting in
// one line, printing the settings in force, serving the bundled demo on its
// defaults, and stopping cleanly on SIGTERM.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freshDatabase, type TestDatabase } from './support/database.js';
import { waitFor } from './support/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(root, 'dist/server/main.js');

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Set once the process has exited and its output is read to the end. */
  closed: { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** The variables named in the first column of README's settings table. */
function readmeSettings(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Settings'), readme.indexOf('\n## Layout'));
  const names = section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] as string));
  expect(names).to.include.members(['PORT', 'DATABASE_URL', 'ADMIN_TOKEN', 'DEMO_FAILURE_RATE']);
  return names;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the command line', () => {
  let database: TestDatabase;
  // Pages, access log and mail of the runs, outside ./data.
  let files: string;
  let run: Run | undefined;

  /**
   * Starts main.js (or `npm start`, in a process group of its own, as a
   * terminal runs it) with only PATH and the given settings in its environment.
   */
  function start(args: string[], env: Record<string, string>, viaNpm = false, nodeArgs: string[] = []): Run {
    const [command, argv] = viaNpm ? ['npm', ['start', '-s']] : [process.execPath, [...nodeArgs, MAIN, ...args]];
    const child = spawn(command, argv, {
      cwd: root,
      detached: viaNpm,
      env: {
        PATH: process.env.PATH ?? '',
        PUBLISH_DIR: join(files, 'pages'),
        LOG_FILE: join(files, 'access.log'),
        MAIL_DIR: join(files, 'mail'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r: Run = { child, stdout: '', stderr: '', closed: undefined };
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (r.stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (r.stderr += chunk));
    child.on('close', (code, signal) => (r.closed = { code, signal }));
    run = r;
    return r;
  }

  const exited = (r: Run, timeoutMs = 10_000) => waitFor(() => r.closed, 'the process to exit', timeoutMs);

  before(async () => {
    // Every run gets its own database (SQLite in a temp dir, or Postgres under
    // TEST_DATABASE_URL), so ./data is never touched.
    database = await freshDatabase();
    files = await mkdtemp(join(tmpdir(), 'freshen-start-'));
  });
  afterEach(async () => {
    const r = run;
    run = undefined;
    // A server that outlived npm holds its pipes open: it goes first.
    if (serverPid !== undefined && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
    serverPid = undefined;
    if (r && !r.closed) {
      r.child.kill('SIGKILL');
      await exited(r);
    }
  });
  let serverPid: number | undefined;

  /** The "listening" log line once it is out. */
  const listeningLine = (r: Run) =>
    waitFor(
      () =>
        r.stdout
          .split('\n')
          .slice(0, -1) // complete lines only
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as { msg?: string; url?: string; database?: string; pid?: number })
          .find((entry) => entry.msg?.startsWith('freshen listening on')),
      'the "listening" log line',
      30_000,
    );
  after(async () => {
    await database?.drop();
    await rm(files, { recursive: true, force: true });
  });

  it('refuses a bad setting with exit code 2 and one line naming it and what is allowed', async () => {
    const r = start([], { PORT: 'abc', DATABASE_URL: database.url });
    const { code } = await exited(r);
    expect(code).to.equal(2);
    expect(r.stdout).to.equal('');
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.equal('freshen: PORT="abc" is not allowed: expected an integer from 0 to 65535');
    expect(r.stderr).not.to.match(/\bat .*:\d+:\d+/);
  });

  it('prints every setting of the README with secrets masked, and exits 0, on --print-config', async () => {
    const r = start(['--print-config'], {
      DATABASE_URL: 'postgres://freshen:db-password-1@db.example.test:5432/freshen',
      ADMIN_TOKEN: 'admin-token-abcdefghij',
      PORT: '8080',
    });
    const { code } = await exited(r);
    expect(code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    const printed = new Map(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
    );
    expect([...printed.keys()]).to.have.members(readmeSettings());
    expect(printed.get('PORT')).to.equal('8080');
    expect(printed.get('DATABASE_URL')).to.equal('postgres://freshen:********@db.example.test:5432/freshen');
    expect(printed.get('ADMIN_TOKEN')).to.equal('********');
    expect(r.stdout).not.to.include('db-password-1');
    expect(r.stdout).not.to.include('admin-token-abcdefghij');
  });

  it('answers an unknown argument with a usage line and exit code 2', async () => {
    const r = start(['--port=3000'], { DATABASE_URL: database.url });
    const { code } = await exited(r);
    expect(code).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.match(/^usage: freshen \[--print-config\].*\n$/);
  });

  it('serves the bundled demo on its defaults, then stops cleanly on SIGTERM', async () => {
    // PORT=0: the port the system picks is in the "listening" log line.
    const r = start([], { PORT: '0', DATABASE_URL: database.url, DEMO_LATENCY_MS: '0', LOG_LEVEL: 'info' });
    const listening = await listeningLine(r);
    const url = listening.url as string;
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listening.msg).to.equal(`freshen listening on ${url}`);
    expect(listening.database).to.equal(database.client);
    await waitFor(() => r.stdout.includes(`/entries/e0001/related`), 'the try-lines', 5000);
    expect(r.stdout).to.include(`curl -si ${url}/entries/e0001 `);
    expect(r.stdout).to.include(`curl -si ${url}/entries/e0013 `);
    // After the log lines written before it, not in the middle of them.
    for (const earlier of ['ADMINS is empty', 'freshen listening on']) {
      expect(r.stdout.indexOf(earlier), earlier).to.be.within(0, r.stdout.indexOf('Try:'));
    }

    const miss = await fetch(`${url}/entries/e0001`);
    expect(miss.status).to.equal(200);
    expect(miss.headers.get('cache-status')).to.equal('freshen; fwd=miss; stored');
    expect(((await miss.json()) as { id: string }).id).to.equal('e0001');

    const hit = await fetch(`${url}/entries/e0001`);
    expect(hit.status).to.equal(200);
    expect(hit.headers.get('cache-status')).to.match(/^freshen; hit; ttl=(299|300)$/);
    await hit.body?.cancel();

    const invalid = await fetch(`${url}/entries/e0013`);
    expect(invalid.status).to.equal(502);
    expect(invalid.headers.get('content-type')).to.match(/^application\/problem\+json/);
    const problem = (await invalid.json()) as { type: string; status: number; detail: string };
    expect(problem.type).to.equal('urn:freshen:problem:upstream-invalid');
    expect(problem.status).to.equal(502);
    expect(problem.detail).not.to.match(/title|schema|required/i);

    expect(r.child.kill('SIGTERM')).to.equal(true);
    const { code, signal } = await exited(r, 10_000);
    expect({ code, signal }, r.stderr).to.deep.equal({ code: 0, signal: null });
    expect(r.stdout).to.include('"msg":"stopping"');
    expect(r.stderr).to.equal('');
  });

  // npm passes SIGINT and SIGTERM on to the script, which must therefore be
  // the server itself (exec), and a Ctrl-C it passes on besides the
  // terminal's own must not count as a second signal.
  for (const [label, send] of [
    ['SIGTERM to npm (as a supervisor sends it)', (r: Run) => r.child.kill('SIGTERM')],
    ['Ctrl-C to the whole process group', (r: Run) => process.kill(-(r.child.pid as number), 'SIGINT')],
  ] as const) {
    it(`stops npm start gracefully on ${label}: exit 0, no process left`, async () => {
      const r = start([], { PORT: '0', DATABASE_URL: database.url, DEMO_LATENCY_MS: '0', LOG_LEVEL: 'info' }, true);
      const listening = await listeningLine(r);
      serverPid = listening.pid as number;
      expect((await fetch(`${listening.url as string}/healthz`)).status).to.equal(200);
      send(r);
      const { code, signal } = await exited(r, 15_000);
      expect({ code, signal }, r.stdout + r.stderr).to.deep.equal({ code: 0, signal: null });
      expect(r.stdout).to.include('"msg":"stopping"');
      expect(r.stdout).not.to.include('second signal');
      expect(alive(serverPid), 'the server process').to.equal(false);
    });
  }

  it('keeps a SIGTERM that comes while it is still loading, and stops cleanly once started', async () => {
    const flag = join(files, 'release-cli');
    const hooks = pathToFileURL(join(root, 'dist/test/support/hold-cli-hooks.js')).href;
    const register = `import { register } from 'node:module'; register(${JSON.stringify(hooks)}, { data: { flag: ${JSON.stringify(flag)} } });`;
    const env = { PORT: '0', DATABASE_URL: database.url, DEMO_LATENCY_MS: '0', LOG_LEVEL: 'info' };
    const r = start([], env, false, ['--import', `data:text/javascript,${encodeURIComponent(register)}`]);
    await waitFor(() => r.stderr.includes('holding the command line'), 'the command line to be held', 10_000);
    r.child.kill('SIGTERM');
    await writeFile(flag, '');
    const { code, signal } = await exited(r, 30_000);
    expect({ code, signal }, r.stdout + r.stderr).to.deep.equal({ code: 0, signal: null });
    expect(r.stdout).to.include('"msg":"stopping"');
  });
});
