// Several upstreams in one service (SOURCES_FILE): two real loopback upstreams
// as two sources, each served under its own path with its own TTL, schema and
// content team, purged by tag across both or one, and told of changes by a
// signed webhook with its own secret. A real service on the suite's database
// and runtime, a real SMTP server whose messages are parsed back.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Knex } from '../db/knex.js';
import { outboxStats } from '../db/outbox.js';
import { BUNDLED_SCHEMA } from '../server/config/config.js';
import { sign } from '../server/freshness/webhook.js';
import { startTestService, type TestService } from './support/service.js';
import { startTestSmtp, type TestSmtp } from './support/smtp.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { manualClock, waitFor } from './support/wait.js';

const TOKEN = 'an-operator-token-of-some-length';
const PRODUCTS_SECRET = 'the-products-webhook-secret-32-chars-long';

describe('several upstreams as sources (SOURCES_FILE)', function () {
  this.timeout(60_000);
  const clock = manualClock(Date.now());
  let products: TestUpstream;
  let articles: TestUpstream;
  let smtp: TestSmtp;
  let service: TestService;
  let dir: string;
  let db: Knex;

  before(async () => {
    products = await startTestUpstream();
    articles = await startTestUpstream();
    smtp = await startTestSmtp();
    dir = await mkdtemp(join(tmpdir(), 'freshen-sources-'));
    // Products must carry a sku; articles are checked against the bundled schema.
    const bundled = JSON.parse(await readFile(BUNDLED_SCHEMA, 'utf8')) as { required: string[]; properties: Record<string, unknown> };
    const product = { ...bundled, required: [...bundled.required, 'sku'], properties: { ...bundled.properties, sku: { type: 'string', minLength: 1 } } };
    await writeFile(join(dir, 'product.json'), JSON.stringify(product));
    const file = {
      sources: [
        {
          name: 'products',
          path: '/products',
          upstreamUrl: products.url,
          schema: 'product.json',
          ttlSeconds: 300,
          contentTeam: ['catalogue@example.test'],
          webhookSecretEnv: 'PRODUCTS_WEBHOOK_SECRET',
        },
        { name: 'articles', upstreamUrl: articles.url, ttlSeconds: 60, contentTeam: ['newsroom@example.test', 'editor@example.test'] },
        // The default source beside them, on the env's settings: its pages keep /pages, the others' go under it.
        { name: 'entries', upstreamUrl: articles.url },
      ],
    };
    await writeFile(join(dir, 'sources.json'), JSON.stringify(file));
    service = await startTestService(products.url, {
      now: clock.now,
      env: {
        SOURCES_FILE: join(dir, 'sources.json'),
        PRODUCTS_WEBHOOK_SECRET: PRODUCTS_SECRET,
        ADMIN_TOKEN: TOKEN,
        // The env's own team hears of no source's data here: every source names its own.
        CONTENT_TEAM: 'everyone@example.test',
        SMTP_URL: smtp.url,
        SMTP_TIMEOUT_SECONDS: '1',
        MAIL_SWEEP_SECONDS: '0.2',
        PUBLISH_INDEX_SECONDS: '0',
      },
    });
    db = openDatabase(service.config.database);
  });
  after(async () => {
    await db?.destroy();
    await service?.stop();
    await smtp?.close();
    await products?.close();
    await articles?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cacheStatus = async (path: string) => (await service.get(path)).headers.get('cache-status') ?? '';
  const json = async (path: string) => {
    const res = await service.get(path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const purge = async (body: unknown) => {
    const res = await fetch(`${service.url}/admin/purge`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  /** Reads each path `times` times at once, then waits until the refreshes they started have ended. */
  async function readAll(paths: string[], times: number): Promise<void> {
    for (let i = 0; i < times; i++) await Promise.all(paths.map((p) => service.get(p)));
    await waitFor(() => [...service.sources.values()].every((s) => paths.every((p) => !s.freshness.refreshing(p.split('/')[2] as string))), 'the refreshes to end');
  }

  it('serves each source under its own path from its own upstream, and related ids across sources', async () => {
    products.set('p1', { record: record('p1', { sku: 'SKU-1', related: ['p2', 'articles:a1', 'nowhere:x1'] }) });
    products.set('p2', { record: record('p2', { sku: 'SKU-2' }) });
    articles.set('a1', { record: record('a1', { title: 'How to choose' }) });

    const p1 = await json('/products/p1');
    expect(p1.status).to.equal(200);
    expect(p1.body).to.nested.include({ id: 'p1', 'data.sku': 'SKU-1' });
    expect((await json('/articles/a1')).body).to.nested.include({ 'data.title': 'How to choose' });
    expect([products.count('p1'), articles.count('p1'), articles.count('a1'), products.count('a1')]).to.deep.equal([1, 0, 1, 0]);
    // The default source, here on the articles' upstream, is asked for its own reads only.
    articles.set('e1', { record: record('e1') });
    expect((await service.get('/entries/e1')).status).to.equal(200);
    expect([articles.count('e1'), products.count('e1')]).to.deep.equal([1, 0]);

    const list = await json('/products?ids=p1,p2');
    expect((list.body.entries as Array<{ id: string }>).map((e) => e.id)).to.deep.equal(['p1', 'p2']);
    const related = await json('/products/p1/related');
    expect((related.body.entries as Array<{ id: string }>).map((e) => e.id)).to.deep.equal(['p2', 'a1']);
    expect((related.body.errors as Array<{ id: string; status: number }>).map((e) => [e.id, e.status])).to.deep.equal([['nowhere:x1', 400]]);
    // The page for a browser links each related entry under its own source's path.
    const page = await (await service.get('/products/p1', { Accept: 'text/html' })).text();
    expect(page).to.include('href="/articles/a1"').and.include('href="/products/p2"').and.include('href="/pages/products/p1.html"');
  });

  it("keeps each source's own TTL", async () => {
    expect(await cacheStatus('/products/p1')).to.match(/^freshen; hit/);
    expect(await cacheStatus('/articles/a1')).to.match(/^freshen; hit/);
    clock.advance(61_000);
    // Past the articles' 60 s, within the products' 300 s.
    expect(await cacheStatus('/articles/a1')).to.match(/^freshen; fwd=stale/);
    expect(await cacheStatus('/products/p1')).to.match(/^freshen; hit/);
    await readAll(['/articles/a1'], 1);
    expect(articles.count('a1')).to.equal(2);
    expect(products.count('p1')).to.equal(1);
  });

  it("checks each source's records against its own schema, and mails an invalid one to that source's team only", async () => {
    // No sku: invalid as a product, fine as an article.
    products.set('p9', { record: record('p9') });
    articles.set('p9', { record: record('p9') });
    expect((await service.get('/products/p9')).status).to.equal(502);
    expect((await service.get('/articles/p9')).status).to.equal(200);
    articles.set('a9', { record: record('a9', { title: '' }) });
    expect((await service.get('/articles/a9')).status).to.equal(502);

    await waitFor(() => smtp.received.length >= 2, 'two notices', 15_000);
    // Once per source, entry and problem: reading them again (refreshed after their backoff) sends nothing more.
    clock.advance(10 * 60_000);
    expect((await service.get('/products/p9')).status).to.equal(502);
    expect((await service.get('/articles/a9')).status).to.equal(502);
    await waitFor(() => products.count('p9') === 2 && articles.count('a9') === 2 && ![...service.sources.values()].some((s) => s.freshness.refreshing('p9') || s.freshness.refreshing('a9')), 'the second refreshes');
    await waitFor(async () => service.mailers.stats().running === 0 && (await outboxStats(db, Date.now())).counts.pending === 0, 'the outbox to settle', 10_000);
    const sent = smtp.received.map((r) => `${r.mail.subject} → ${r.rcptTo.toSorted().join(', ')}`).toSorted();
    expect(sent).to.deep.equal([
      '[freshen] Articles entry a9 has invalid data → editor@example.test, newsroom@example.test',
      '[freshen] Products entry p9 “Entry p9” has invalid data → catalogue@example.test',
    ]);
    const notice = smtp.received.find((r) => r.rcptTo.includes('catalogue@example.test'));
    expect(notice?.mail.text).to.include('products entry p9').and.include("must have required property 'sku'");
  });

  it('purges by tag in every source, or in the one named, and the next read refreshes each purged entry once', async () => {
    products.set('t1', { record: record('t1', { sku: 'T1' }), headers: { 'Surrogate-Key': 'sale summer' } });
    products.set('t2', { record: record('t2', { sku: 'T2' }), headers: { 'Surrogate-Key': 'winter' } });
    articles.set('t1', { record: record('t1'), headers: { 'Cache-Tag': 'sale, guides' } });
    articles.set('t3', { record: record('t3'), headers: { 'Cache-Tag': 'guides' } });
    const paths = ['/products/t1', '/products/t2', '/articles/t1', '/articles/t3'];
    for (const p of paths) expect((await service.get(p)).status).to.equal(200);
    const counts = () => [products.count('t1'), products.count('t2'), articles.count('t1'), articles.count('t3')];
    expect(counts()).to.deep.equal([1, 1, 1, 1]);

    const everywhere = await purge({ tags: ['sale'] });
    expect(everywhere.status).to.equal(200);
    expect(everywhere.body).to.deep.include({ source: '*', matched: 2, bySource: { products: 1, articles: 1, entries: 0 } });
    expect(await cacheStatus('/products/t1')).to.match(/^freshen; fwd=stale/);
    expect(await cacheStatus('/articles/t1')).to.match(/^freshen; fwd=stale/);
    expect(await cacheStatus('/products/t2')).to.match(/^freshen; hit/);
    await readAll(paths, 5);
    expect(counts()).to.deep.equal([2, 1, 2, 1]);

    const one = await purge({ source: 'articles', tags: ['guides'] });
    expect(one.body).to.deep.include({ source: 'articles', matched: 2, bySource: { articles: 2 } });
    await readAll(paths, 3);
    expect(counts()).to.deep.equal([2, 1, 3, 2]);

    // Ids belong to one source: with several, it must be named; an unknown one is refused.
    expect((await purge({ ids: ['t1'] })).status).to.equal(400);
    expect((await purge({ source: 'nowhere', ids: ['t1'] })).body.detail).to.include('the sources are: products, articles');
  });

  it("takes a webhook signed with the source's own secret, and refuses unsigned, wrongly signed and replayed ones with nothing changed", async () => {
    products.set('w1', { record: record('w1', { sku: 'W1' }) });
    expect((await service.get('/products/w1')).status).to.equal(200);
    const body = JSON.stringify({ ids: ['w1'] });
    const call = async (source: string, signature: string | undefined) => {
      const headers: Record<string, string> = { 'Content-Type': 'application/json' };
      if (signature !== undefined) headers['X-Freshen-Signature'] = signature;
      const res = await fetch(`${service.url}/hooks/${source}`, { method: 'POST', headers, body });
      return res.status;
    };
    const t = Math.floor(Date.now() / 1000);
    const good = `t=${t},v1=${sign(PRODUCTS_SECRET, t, body)}`;
    // Nothing changes on a refused call: the entry stays a hit, the upstream is not asked.
    expect(await call('products', undefined)).to.equal(401);
    expect(await call('products', `t=${t},v1=${sign('another-secret-that-is-32-characters-long', t, body)}`)).to.equal(401);
    // A source with no secret has no webhook.
    expect(await call('articles', `t=${t},v1=${sign(PRODUCTS_SECRET, t, body)}`)).to.equal(404);
    expect(await cacheStatus('/products/w1')).to.match(/^freshen; hit/);
    expect(products.count('w1')).to.equal(1);

    expect(await call('products', good)).to.equal(200);
    expect(await call('products', good)).to.equal(401);
    expect(await cacheStatus('/products/w1')).to.match(/^freshen; fwd=stale/);
    await readAll(['/products/w1'], 3);
    expect(products.count('w1')).to.equal(2);
  });

  it("publishes each source's pages under its own path, and lists the sources on the status page, in metrics and in the OpenAPI document", async () => {
    const page = await waitFor(async () => {
      const res = await service.get('/pages/products/p1.html');
      return res.status === 200 ? res.text() : undefined;
    }, "p1's page");
    expect(page).to.include('href="/products/p1"').and.include('href="/pages/products/"');
    const index = await waitFor(async () => {
      const res = await service.get('/pages/articles/');
      const text = res.status === 200 ? await res.text() : '';
      return text.includes('entries on') ? text : undefined;
    }, 'the articles index');
    expect(index).to.include('href="/pages/articles/index/');
    // Each source's pages in its own directory; the default source's at the top, where they were.
    const pages = join(service.files, 'pages');
    expect(existsSync(join(pages, 'products', 'p1.html'))).to.equal(true);
    expect(existsSync(join(pages, 'p1.html'))).to.equal(false);
    expect((await service.get('/pages/p1.html')).status).to.equal(404);
    const e1 = await waitFor(async () => {
      const res = await service.get('/pages/e1.html');
      return res.status === 200 ? res.text() : undefined;
    }, "e1's page");
    expect(e1).to.include('href="/entries/e1"');
    const bare = await fetch(`${service.url}/pages/products`, { redirect: 'manual' });
    expect([bare.status, bare.headers.get('location')]).to.deep.equal([301, '/pages/products/']);

    const status = await (await service.get('/admin', { Authorization: `Bearer ${TOKEN}`, Accept: 'text/html' })).text();
    expect(status).to.include('<td>products</td><td><code>/products/</code></td>').and.include('<td>articles</td><td><code>/articles/</code></td>');
    const metrics = await (await service.get('/metrics')).text();
    expect(metrics).to.match(/^freshen_source_reads_total\{source="products",outcome="miss"\} \d+/m);
    expect(metrics).to.match(/^freshen_source_refreshes_total\{source="articles",outcome="invalid"\} 2$/m);
    const doc = (await json('/openapi.json')).body as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).to.include.members(['/products/{id}', '/articles/{id}/related', '/entries/{id}', '/pages/products/', '/pages/', '/hooks/{source}']);
    expect(Object.keys(doc.paths).filter((p) => p.endsWith('/{id}/refresh'))).to.have.length(3);
  });
});
