// WEB_CONCURRENCY=2 with a long TTL: a refresh stored by one worker reaches
// the other worker's memory tier at once (the primary passes it on; on
// Postgres, LISTEN/NOTIFY), so no worker keeps answering its older copy.
import { expect } from 'chai';
import { request } from 'node:http';
import { useFreshenProcesses } from './support/freshen-process.js';
import { record } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'an-operator-token-of-some-length';

/** A GET on a connection of its own, so the cluster may hand it to either worker. */
function title(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve((JSON.parse(body) as { data: { title: string } }).data.title));
    });
    req.on('error', reject);
    req.end();
  });
}

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
});
