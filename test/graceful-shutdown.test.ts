// SIGTERM under load: every request in flight is answered, then the process
// exits 0; a second signal exits at once.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDatabase, type TestDatabase } from './support/database.js';
import { startTestUpstream, record, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

const exited = (c: ChildProcess) =>
  waitFor(() => (c.exitCode !== null || c.signalCode !== null ? { code: c.exitCode, signal: c.signalCode } : undefined), 'exit', 20_000);

describe('graceful shutdown', () => {
  let upstream: TestUpstream;
  let database: TestDatabase;
  let files: string;
  let child: ChildProcess | undefined;

  before(async () => {
    upstream = await startTestUpstream();
    database = await freshDatabase();
    files = await mkdtemp(join(tmpdir(), 'freshen-stop-'));
  });
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  after(async () => {
    await upstream?.close();
    await database?.drop();
    await rm(files, { recursive: true, force: true });
  });

  /** Starts freshen as a real process; resolves with its URL once it listens. */
  async function start(): Promise<{ url: string; output: () => string }> {
    let output = '';
    child = spawn(process.execPath, ['dist/server/main.js'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        DATABASE_URL: database.url,
        UPSTREAM_URL: upstream.url,
        UPDATER_RUNTIME: process.env.TEST_UPDATER_RUNTIME || 'thread',
        PUBLISH_DIR: join(files, 'pages'),
        LOG_FILE: join(files, 'access.log'),
        MAIL_DIR: join(files, 'mail'),
      },
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const url = await waitFor(() => /listening on (http:\/\/[\d.:]+)/.exec(output)?.[1], 'the server to listen', 20_000);
    return { url, output: () => output };
  }


  it('answers every request in flight, then exits 0', async function () {
    this.timeout(40_000);
    const { url, output } = await start();
    const ids = Array.from({ length: 40 }, (_, i) => `g${i}`);
    for (const id of ids) upstream.set(id, { record: record(id), delayMs: 400 });
    const before = upstream.total();
    const answers = Promise.all(
      ids.map(async (id) => {
        const res = await fetch(`${url}/entries/${id}`);
        return res.status;
      }),
    );
    // Every request is in flight, waiting on the slow upstream, when the signal comes.
    await waitFor(() => upstream.total() - before >= 20, 'requests in flight', 10_000);
    child?.kill('SIGTERM');
    const statuses = await answers;
    expect(statuses).to.deep.equal(ids.map(() => 200));
    expect(await exited(child as ChildProcess)).to.deep.equal({ code: 0, signal: null });
    expect(output()).to.include('stopping');
  });

  it('exits at once on a second signal', async function () {
    this.timeout(40_000);
    const { url, output } = await start();
    upstream.set('held', { hang: true });
    void fetch(`${url}/entries/held`).catch(() => undefined);
    await waitFor(() => upstream.count('held') >= 1, 'the held request');
    child?.kill('SIGTERM');
    await waitFor(() => output().includes('stopping'), 'the first signal to be taken');
    child?.kill('SIGINT');
    const started = performance.now();
    const result = await exited(child as ChildProcess);
    expect(result.code).to.equal(1);
    expect(performance.now() - started).to.be.below(3000);
    upstream.releaseHeld();
  });
});
