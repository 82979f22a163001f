// Two sources (two real loopback upstreams) on two nodes sharing one database:
// separate freshen processes on Postgres, which hear each other's purges by
// LISTEN; the two workers of a cluster on SQLite, which hear them through the
// cluster's primary. A webhook signed with one source's secret, taken by one
// node, marks that source's tagged entries stale on every node and each is
// refreshed once; an unsigned, wrongly signed or replayed call changes nothing
// anywhere, and the other source's entries with the same tag are left alone.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '../server/freshness/webhook.js';
import { useFreshenProcesses } from './support/freshen-process.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const PRODUCTS_SECRET = 'products-secret-of-at-least-32-characters';
const ARTICLES_SECRET = 'articles-secret-of-at-least-32-characters';
const onPostgres = Boolean(process.env.TEST_DATABASE_URL);

interface Read {
  title: string;
  status: string;
}

async function read(url: string): Promise<Read> {
  const res = await fetch(url);
  const body = (await res.json()) as { data: { title: string } };
  return { title: body.data.title, status: res.headers.get('cache-status') ?? '' };
}

describe(`a webhook of one source on two nodes (${onPostgres ? 'two processes on Postgres' : 'a cluster of two workers on SQLite'})`, function () {
  this.timeout(90_000);
  const freshen = useFreshenProcesses('sources-fleet');
  let articles: TestUpstream;
  let dir: string;
  let nodes: string[] = [];

  before(async () => {
    articles = await startTestUpstream();
    dir = await mkdtemp(join(tmpdir(), 'freshen-sources-fleet-'));
    const products = freshen.upstream();
    const file = join(dir, 'sources.json');
    await writeFile(
      file,
      JSON.stringify({
        sources: [
          { name: 'products', upstreamUrl: products.url, ttlSeconds: 300, webhookSecretEnv: 'PRODUCTS_SECRET' },
          { name: 'articles', upstreamUrl: articles.url, ttlSeconds: 300, webhookSecretEnv: 'ARTICLES_SECRET' },
        ],
      }),
    );
    const env = { SOURCES_FILE: file, PRODUCTS_SECRET, ARTICLES_SECRET, UPDATER_MAX_WORKERS: '1' };
    if (onPostgres) {
      const started = [freshen.start(env), freshen.start(env)];
      nodes = await Promise.all(started.map((node) => node.listening()));
      await waitFor(() => started.every((node) => /hearing other nodes’ refreshes by LISTEN/.test(node.output())) || undefined, 'both nodes to LISTEN', 20_000);
    } else {
      const cluster = freshen.start({ ...env, WEB_CONCURRENCY: '2' });
      const url = await cluster.listening();
      await waitFor(() => (cluster.output().match(/cluster worker listening/g) ?? []).length >= 2, 'both workers', 30_000);
      // Whichever worker each request reaches: enough reads through the one address reach both.
      nodes = Array.from({ length: 10 }, () => url);
    }
  });
  after(async () => {
    await articles?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Every node's answer for a path, read twice over. */
  const everywhere = async (path: string) => Promise.all([...nodes, ...nodes].map((url) => read(`${url}${path}`)));

  it('takes a good call on one node and marks its tagged entries stale on every node; refuses the rest with nothing changed', async () => {
    const products = freshen.upstream();
    products.set('p1', { record: record('p1', { title: 'first' }), headers: { 'Surrogate-Key': 'spring' } });
    articles.set('a1', { record: record('a1', { title: 'first' }), headers: { 'Cache-Tag': 'spring' } });
    for (const path of ['/products/p1', '/articles/a1']) {
      expect((await read(`${nodes[0]}${path}`)).title).to.equal('first');
      const held = await everywhere(path);
      expect(held.map((r) => `${r.title} ${r.status.split(';')[1]?.trim()}`)).to.deep.equal(held.map(() => 'first hit'));
    }
    products.set('p1', { record: record('p1', { title: 'second' }), headers: { 'Surrogate-Key': 'spring' } });
    articles.set('a1', { record: record('a1', { title: 'second' }), headers: { 'Cache-Tag': 'spring' } });

    const body = JSON.stringify({ tags: ['spring'] });
    const t = Math.floor(Date.now() / 1000);
    const call = async (url: string, signature: string | undefined) => {
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (signature !== undefined) headers['X-Freshen-Signature'] = signature;
      const res = await fetch(`${url}/hooks/products`, { method: 'POST', headers, body });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const good = `t=${t},v1=${sign(PRODUCTS_SECRET, t, body)}`;
    const [a, b] = onPostgres ? (nodes as [string, string]) : [nodes[0] as string, nodes[0] as string];

    // Unsigned; signed with the other source's secret; signed too long ago: nothing changes anywhere.
    expect((await call(a, undefined)).status).to.equal(401);
    expect((await call(a, `t=${t},v1=${sign(ARTICLES_SECRET, t, body)}`)).status).to.equal(401);
    expect((await call(b, `t=${t - 600},v1=${sign(PRODUCTS_SECRET, t - 600, body)}`)).status).to.equal(401);
    for (const r of await everywhere('/products/p1')) expect(`${r.title} ${r.status.split(';')[1]?.trim()}`).to.equal('first hit');
    expect(products.count('p1')).to.equal(1);

    const taken = await call(a, good);
    expect(taken.status).to.equal(200);
    expect(taken.body).to.deep.include({ source: 'products', matched: 1 });
    // Its replay, to the same node or another, is refused: the fleet took it once.
    expect((await call(b, good)).status).to.equal(401);
    await waitFor(async () => (await everywhere('/products/p1')).every((r) => r.title === 'second'), 'every node to answer the refreshed product', 10_000);
    expect(products.count('p1')).to.equal(2);
    // The article with the same tag is another source's: still the first version, never asked again.
    for (const r of await everywhere('/articles/a1')) expect(`${r.title} ${r.status.split(';')[1]?.trim()}`).to.equal('first hit');
    expect(articles.count('a1')).to.equal(1);
  });
});
