// The re-publish command renders every stored entry's page again from the
// database, with a progress line, and writes every shard of the index.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestUpstream, record, type TestUpstream } from './support/upstream.js';
import { startTestService, type TestService } from './support/service.js';
import { waitFor } from './support/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the re-publish command', () => {
  let upstream: TestUpstream;
  let service: TestService;
  let out: string;

  before(async () => {
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url);
    out = await mkdtemp(join(tmpdir(), 'freshen-republish-'));
    const ids = Array.from({ length: 30 }, (_, i) => `r${i}`);
    for (const id of ids) upstream.set(id, { record: record(id, { title: `Title ${id}` }) });
    const res = await service.get(`/entries?ids=${ids.join(',')}`);
    expect(res.status).to.equal(200);
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
    await rm(out, { recursive: true, force: true });
  });

  it('writes every stored page and the index to PUBLISH_DIR, reporting progress', async () => {
    const child = spawn(process.execPath, ['dist/server/republish.js'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: service.database.url, PUBLISH_DIR: out },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await waitFor(() => child.exitCode !== null || child.signalCode !== null, 'the command to finish', 20_000).catch(
      (err: unknown) => {
        child.kill('SIGKILL');
        throw err;
      },
    );
    expect(child.exitCode, stderr).to.equal(0);
    expect(stderr).to.match(/republished 30 pages in [\d.]+ s · \d+ pages\/s\n/);
    expect(stderr).to.include(`wrote 30 pages and the index to ${out}`);
    const names = (await readdir(out)).toSorted();
    expect(names.filter((n) => /^r\d+\.html$/.test(n))).to.have.length(30);
    expect(names.filter((n) => !/^r\d+\.html$/.test(n))).to.deep.equal(['index', 'index.html', 'sitemap.xml', 'sitemaps']);
    expect(await readFile(join(out, 'r7.html'), 'utf8')).to.include('<h1>Title r7</h1>');
    expect(await readFile(join(out, 'index.html'), 'utf8')).to.include('30 entries on');
    const shards = await readdir(join(out, 'index'));
    const listed = await Promise.all(shards.filter((n) => n.endsWith('.html')).map((n) => readFile(join(out, 'index', n), 'utf8')));
    expect(listed.join('')).to.include('<a href="/pages/r29.html">Title r29</a>');
  });
});
