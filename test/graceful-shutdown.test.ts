// SIGTERM under load: every request in flight is answered, then the process
// exits 0; a second signal exits at once; a reader still waiting is answered
// before the end; a Ctrl-C to the whole process group stops it cleanly.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { useFreshenProcesses } from './support/freshen-process.js';
import { record, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const exited = (c: ChildProcess) =>
  waitFor(() => (c.exitCode !== null || c.signalCode !== null ? { code: c.exitCode, signal: c.signalCode } : undefined), 'exit', 20_000);

describe('graceful shutdown', () => {
  const freshen = useFreshenProcesses('stop');
  let child: ChildProcess | undefined;
  let upstream: TestUpstream;
  before(() => {
    upstream = freshen.upstream();
  });

  /** Starts freshen as a real process; resolves with its URL once it listens. */
  async function start(env: Record<string, string> = {}): Promise<{ url: string; output: () => string }> {
    const started = freshen.start(env);
    child = started.child;
    return { url: await started.listening(20_000), output: started.output };
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

  it('answers a reader still waiting on a refresh with 503 before it stops, then exits 0', async function () {
    this.timeout(40_000);
    const { url } = await start({ SHUTDOWN_TIMEOUT_SECONDS: '2', UPSTREAM_TIMEOUT_MS: '3000', UPDATER_TASK_TIMEOUT_MS: '4000' });
    upstream.set('stuck', { hang: true });
    const answer = fetch(`${url}/entries/stuck`);
    await waitFor(() => upstream.count('stuck') >= 1, 'the refresh to reach the upstream');
    const signalled = performance.now();
    child?.kill('SIGTERM');
    const res = await answer;
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.equal('1');
    expect(((await res.json()) as { type: string }).type).to.equal('urn:freshen:problem:shutting-down');
    // Within the shutdown bound, not cut off at its end.
    expect(performance.now() - signalled).to.be.below(2000);
    expect(await exited(child as ChildProcess)).to.deep.equal({ code: 0, signal: null });
  });

  it('stops cleanly when a Ctrl-C reaches its whole process group, updater and mailer children too', async function () {
    this.timeout(40_000);
    const { url, output } = await start();
    upstream.set('c1', { record: record('c1') });
    expect((await fetch(`${url}/entries/c1`)).status).to.equal(200);
    process.kill(-(child?.pid as number), 'SIGINT');
    expect(await exited(child as ChildProcess)).to.deep.equal({ code: 0, signal: null });
    expect(output()).not.to.match(/Worker exited unexpectedly|Error:/);
  });

  it('lets a mailer started just before a Ctrl-C deliver its notice', async function () {
    this.timeout(40_000);
    const { url, output } = await start({ CONTENT_TEAM: 'content@example.test' });
    upstream.set('inv1', { record: record('inv1', { title: '' }) });
    // The notice is committed before this answer, and a mailer is starting.
    expect((await fetch(`${url}/entries/inv1`)).status).to.equal(502);
    process.kill(-(child?.pid as number), 'SIGINT');
    expect(await exited(child as ChildProcess)).to.deep.equal({ code: 0, signal: null });
    expect(output()).not.to.match(/mailer ended abnormally/);
    const mail = await readdir(join(freshen.files(), 'mail'));
    expect(mail.filter((f) => f.endsWith('.eml'))).to.have.length(1);
  });
});
