// WEB_CONCURRENCY=2: two Koa processes answer, a stale entry is still
// refreshed once (the database lease), metrics cover both, a dead worker is
// replaced, and SIGTERM stops the whole cluster with exit code 0 — also while
// it starts; workers that cannot start make it give up with exit code 1.
import { expect } from 'chai';
import type { ChildProcess } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useFreshenProcesses } from './support/freshen-process.js';
import { record, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'a-cluster-operator-token';

/** A GET on a connection of its own, so the cluster may hand it to any worker. */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; cacheStatus: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cacheStatus: String(res.headers['cache-status'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('cluster mode (WEB_CONCURRENCY=2)', function () {
  this.timeout(60_000);
  const freshen = useFreshenProcesses('cluster');
  let upstream: TestUpstream;
  let files: string;
  let child: ChildProcess;
  let output: () => string;
  let url = '';

  before(async () => {
    upstream = freshen.upstream();
    files = freshen.files();
    const cluster = freshen.start({ WEB_CONCURRENCY: '2', ENTRY_TTL_SECONDS: '1', ADMIN_TOKEN: TOKEN });
    child = cluster.child;
    output = cluster.output;
    url = await cluster.listening();
    await waitFor(() => (output().match(/cluster worker listening/g) ?? []).length >= 2, 'both workers', 30_000);
  });

  const pidsInLog = async () => {
    const text = await readFile(join(files, 'access.log'), 'utf8').catch(() => '');
    // Whole lines only: the last one may be half written as it is read.
    const lines = text.split('\n').slice(0, -1);
    return new Set(lines.map((l) => (JSON.parse(l) as { pid: number }).pid));
  };

  it('answers from two processes', async () => {
    upstream.set('k1', { record: record('k1') });
    expect((await get(`${url}/entries/k1`)).status).to.equal(200);
    for (let i = 0; i < 40; i++) expect((await get(`${url}/entries/k1`)).status).to.equal(200);
    const pids = await waitFor(async () => {
      const p = await pidsInLog();
      return p.size >= 2 ? p : undefined;
    }, 'lines from two pids');
    expect(pids.has(child.pid as number)).to.equal(false);
  });

  it('refreshes a stale entry once across both processes', async () => {
    const before = upstream.count('k1');
    upstream.set('k1', { record: record('k1', { title: 'second' }), delayMs: 200 });
    // Real time here (two processes): wait until the row has turned stale.
    await waitFor(async () => (await get(`${url}/entries/k1`)).cacheStatus.includes('fwd=stale'), 'the entry to turn stale');
    await Promise.all(Array.from({ length: 40 }, () => get(`${url}/entries/k1`)));
    await waitFor(async () => (await get(`${url}/entries/k1`)).body.includes('"title":"second"'), 'the refreshed row');
    expect(upstream.count('k1')).to.equal(before + 1);
  });

  it("plots the whole node's last minutes on the status page, whichever worker answers", async () => {
    for (let i = 0; i < 6; i++) {
      const page = (await get(`${url}/admin`, { authorization: `Bearer ${TOKEN}`, accept: 'text/html' })).body;
      expect(page).to.include("The plots are the whole node's: its 2 processes together.");
      expect(Number(/data-points="(\d+)"/.exec(page)?.[1])).to.be.at.least(1);
    }
  });

  it('serves metrics of the whole cluster', async () => {
    const text = (await get(`${url}/metrics`)).body;
    const workers = Number(/^freshen_updater_workers (\d+)/m.exec(text)?.[1]);
    expect(workers).to.be.at.least(2);
    expect(text).to.match(/^freshen_http_request_duration_seconds_count\{route="\/entries\/:id",method="GET",status="200"\} \d+/m);
  });

  it('replaces a worker that dies', async () => {
    const [victim] = await pidsInLog();
    process.kill(victim as number, 'SIGKILL');
    await waitFor(() => output().includes('cluster worker died; starting another'), 'the death to be noticed');
    await waitFor(() => (output().match(/cluster worker listening/g) ?? []).length >= 3, 'a new worker');
    for (let i = 0; i < 10; i++) expect((await get(`${url}/entries/k1`)).status).to.equal(200);
  });

  it('stops the whole cluster on SIGTERM with exit code 0', async () => {
    child.kill('SIGTERM');
    const result = await waitFor(
      () => (child.exitCode !== null || child.signalCode !== null ? { code: child.exitCode, signal: child.signalCode } : undefined),
      'the cluster to exit',
      30_000,
    );
    expect(result).to.deep.equal({ code: 0, signal: null });
  });
});

describe('cluster mode while it starts', function () {
  this.timeout(60_000);
  const freshen = useFreshenProcesses('cluster-start');
  const start = (env: Record<string, string> = {}) => freshen.start({ WEB_CONCURRENCY: '2', ...env });

  it('stops with exit code 0 on a SIGTERM that comes before its workers listen', async () => {
    const cluster = start();
    await waitFor(() => cluster.output().includes('cluster started'), 'the workers to be forked', 20_000);
    cluster.child.kill('SIGTERM');
    expect(await cluster.exited()).to.deep.equal({ code: 0, signal: null });
    expect(cluster.output()).to.include('stopping the cluster');
  });

  it('gives up with exit code 1 when its workers cannot start', async () => {
    // A port that is taken: no worker can listen on it.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const cluster = start({ PORT: String((taken.address() as AddressInfo).port) });
      expect(await cluster.exited()).to.deep.equal({ code: 1, signal: null });
      expect(cluster.output()).to.include('a cluster worker failed to start; stopping');
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
