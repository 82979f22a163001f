// WEB_CONCURRENCY=2 with a long TTL: a refresh stored by one worker reaches
// the other worker's memory tier at once (the primary passes it on; on
// Postgres, LISTEN/NOTIFY), so no worker keeps answering its older copy; and
// so does a purge taken by one worker.
import { expect } from 'chai';
import { request } from 'node:http';
import { useFreshenProcesses } from './support/freshen-process.js';
import { record } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'an-operator-token-of-some-length';

/** A GET on a connection of its own, so the cluster may hand it to either worker: the title and Cache-Status answered. */
function read(url: string): Promise<{ title: string; status: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ title: (JSON.parse(body) as { data: { title: string } }).data.title, status: String(res.headers['cache-status']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const title = async (url: string) => (await read(url)).title;

describe('a cluster whose workers hold an entry in memory', function () {
  this.timeout(60_000);
  const freshen = useFreshenProcesses('cluster-changes');

  it('answers the refreshed record from every worker as soon as one stored it', async () => {
    const upstream = freshen.upstream();
    upstream.set('c1', { record: record('c1', { title: 'first' }) });
    const cluster = freshen.start({ WEB_CONCURRENCY: '2', ENTRY_TTL_SECONDS: '300', ADMIN_TOKEN: TOKEN });
    const url = await cluster.listening();
    await waitFor(() => (cluster.output().match(/cluster worker listening/g) ?? []).length >= 2, 'both workers', 30_000);

    // Both workers answer, and each keeps `first` in memory.
    const before = await Promise.all(Array.from({ length: 20 }, () => title(`${url}/entries/c1`)));
    expect(new Set(before)).to.deep.equal(new Set(['first']));

    upstream.set('c1', { record: record('c1', { title: 'second' }) });
    const asked = await fetch(`${url}/entries/c1/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(asked.status).to.equal(202);
    await waitFor(() => upstream.count('c1') === 2, 'the refresh', 10_000);
    await waitFor(async () => {
      const after = await Promise.all(Array.from({ length: 20 }, () => title(`${url}/entries/c1`)));
      return after.every((t) => t === 'second');
    }, 'every worker to answer the refreshed record', 5000);
  });

  it('drops every worker\'s copy of the entries a purge marks stale, whichever worker took it', async () => {
    const upstream = freshen.upstream();
    upstream.set('c2', { record: record('c2', { title: 'first' }), headers: { 'Surrogate-Key': 'line' } });
    const cluster = freshen.start({ WEB_CONCURRENCY: '2', ENTRY_TTL_SECONDS: '300', ADMIN_TOKEN: TOKEN });
    const url = await cluster.listening();
    await waitFor(() => (cluster.output().match(/cluster worker listening/g) ?? []).length >= 2, 'both workers', 30_000);
    expect(await title(`${url}/entries/c2`)).to.equal('first');
    const before = await Promise.all(Array.from({ length: 20 }, () => read(`${url}/entries/c2`)));
    expect(before.map((r) => `${r.title} ${r.status.split(';')[1]?.trim()}`)).to.deep.equal(Array.from({ length: 20 }, () => 'first hit'));

    // The refresh the purge brings takes a while: until it is stored, only the purge's notice tells the other worker.
    upstream.set('c2', { record: record('c2', { title: 'second' }), headers: { 'Surrogate-Key': 'line' }, delayMs: 3000 });
    const purged = await fetch(`${url}/admin/purge`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ tags: ['line'] }),
    });
    expect(purged.status).to.equal(200);
    expect(await purged.json()).to.include({ matched: 1 });
    await waitFor(
      async () => (await Promise.all(Array.from({ length: 20 }, () => read(`${url}/entries/c2`)))).every((r) => r.status.startsWith('freshen; fwd=stale')),
      'every worker to serve it stale',
      2000,
    );
    await waitFor(async () => (await Promise.all(Array.from({ length: 20 }, () => read(`${url}/entries/c2`)))).every((r) => r.title === 'second'), 'the refreshed record', 10_000);
    expect(upstream.count('c2')).to.equal(2);
  });
});
