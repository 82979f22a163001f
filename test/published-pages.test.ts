// Each good refresh publishes the entry's page — written off the main thread,
// atomically — and the pages are served at /pages/. Upstream data never makes
// a page run script or a file land outside PUBLISH_DIR.
import { expect } from 'chai';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import runTask from '../workers/updater.js';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'a-long-enough-admin-token';

/** Version n of entry c1: alternately ~100 KB and small, so a torn page would show. */
function version(n: number) {
  return record('c1', { title: `Version ${n}`, body: `# V${n}\n\n${'word '.repeat(n % 2 ? 20_000 : 50)}` });
}

describe('published pages', () => {
  let upstream: TestUpstream;
  let service: TestService;
  let dir: string;

  useService({ env: { ADMIN_TOKEN: TOKEN, PUBLISH_INDEX_SECONDS: '0.1' } }, (u, s) => {
    upstream = u;
    service = s;
    dir = service.config.publish.dir;
  });

  const refresh = (id: string) =>
    fetch(`${service.url}/entries/${id}/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
  const page = (id: string) => readFile(join(dir, `${id}.html`), 'utf8');
  let p1FetchedAt = '';

  it('publishes a complete page of a refreshed entry that matches the stored data', async () => {
    upstream.set('p1', {
      record: record('p1', {
        title: 'Harbour & Lights',
        body: '# Harbour\n\nSome **bold** text and `code`.\n\n## Details\n\n- one\n- two\n\n[docs](https://example.test/docs)\n',
        author: 'Ada',
        tags: ['sea', 'light'],
        related: ['p2'],
      }),
    });
    const res = await service.get('/entries/p1');
    expect(res.status).to.equal(200);
    const stored = (await res.json()) as { data: { title: string }; fetchedAt: string };
    p1FetchedAt = stored.fetchedAt;
    // The worker writes the page just after answering.
    const html = await waitFor(() => page('p1').catch(() => undefined), 'the page of p1');
    expect(html.startsWith('<!doctype html>')).to.equal(true);
    expect(html.trimEnd().endsWith('</html>')).to.equal(true);
    expect(html).to.include('<title>Harbour &#38; Lights · freshen</title>');
    expect(html).to.include('<h1>Harbour &#38; Lights</h1>');
    expect(html).to.include('<strong>bold</strong>');
    expect(html).to.include('<h2>Details</h2>');
    expect(html).to.include('<li>one</li>');
    expect(html).to.include('<a href="https://example.test/docs" rel="noopener noreferrer nofollow">docs</a>');
    expect(html).to.include('<dt>author</dt><dd>Ada</dd>');
    expect(html).to.include('<dd>[&#34;sea&#34;,&#34;light&#34;]</dd>');
    expect(html).to.include('<a href="/pages/p2.html">p2</a>');
    expect(/<time datetime="([^"]+)">/.exec(html)?.[1]).to.equal(stored.fetchedAt);
  });

  it('serves a published page with its content type, ETag, Last-Modified and a short cache life', async () => {
    const res = await service.get('/pages/p1.html');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).to.equal('public, max-age=60');
    expect(res.headers.get('content-security-policy')).to.include("default-src 'none'");
    const etag = res.headers.get('etag') as string;
    const lastModified = res.headers.get('last-modified') as string;
    expect(etag).to.match(/^W\/"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    // Last-Modified is when the entry was fetched.
    expect(new Date(lastModified).getTime()).to.equal(Math.floor(Date.parse(p1FetchedAt) / 1000) * 1000);
    expect(await res.text()).to.equal(await page('p1'));
    expect((await service.get('/pages/p1.html', { 'If-None-Match': etag })).status).to.equal(304);
    expect((await service.get('/pages/p1.html', { 'If-Modified-Since': lastModified })).status).to.equal(304);
    for (const bad of ['/pages/nope.html', '/pages/p1.htm', '/pages/..%2Fp1.html', '/pages/%2e%2e%2faccess.log']) {
      expect((await service.get(bad)).status, bad).to.equal(404);
    }
  });

  it('answers a HEAD with If-None-Match by 304, and /pages by a redirect to /pages/', async () => {
    const etag = (await service.get('/pages/p1.html')).headers.get('etag') as string;
    const conditional = await fetch(`${service.url}/pages/p1.html`, { method: 'HEAD', headers: { 'If-None-Match': etag } });
    expect(conditional.status).to.equal(304);
    const head = await fetch(`${service.url}/pages/p1.html`, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(Number(head.headers.get('content-length'))).to.equal(Buffer.byteLength(await page('p1')));
    const bare = await fetch(`${service.url}/pages`, { redirect: 'manual' });
    expect(bare.status).to.equal(301);
    expect(bare.headers.get('location')).to.equal('/pages/');
  });

  it('lists published entries on the index, through the shard of each', async () => {
    const shardLink = /<a href="(\/pages\/index\/\d+\.html)">/g;
    const shard = await waitFor(async () => {
      const res = await service.get('/pages/');
      if (res.status !== 200) return undefined;
      for (const [, link] of (await res.text()).matchAll(shardLink)) {
        const text = await (await service.get(link as string)).text();
        if (text.includes('/pages/p1.html')) return text;
      }
      return undefined;
    }, 'a shard of the index to list p1');
    expect(shard).to.include('<a href="/pages/p1.html">Harbour &#38; Lights</a>');
  });

  it('publishes nothing active from a malicious record, and nothing outside PUBLISH_DIR', async () => {
    upstream.set('evil', {
      record: record('evil', {
        title: '<script>alert("title")</script>',
        body: [
          '<script>alert(1)</script>',
          '<img src="https://example.test/x.png" onerror="alert(2)">',
          '[click](javascript:alert(3)) <a href="JaVaScRiPt:alert(4)">x</a> <a href="java&#x09;script:alert(5)">y</a>',
          '<iframe src="https://evil.test/"></iframe><object data="x"></object>',
          '<div onclick="alert(6)" style="background:url(javascript:alert(7))">div</div>',
          '<svg onload="alert(8)"></svg><form action="https://evil.test"><input></form>',
        ].join('\n\n'),
        author: '../../../../tmp/freshen-evil',
        '<b onmouseover="alert(9)">key</b>': '"><script>alert(10)</script>',
        related: ['p1'],
      }),
    });
    expect((await service.get('/entries/evil')).status).to.equal(200);
    const html = await waitFor(() => page('evil').catch(() => undefined), 'the page of evil');
    // No script element, no tag with an event handler, no javascript: URL in any
    // attribute (escaped text such as &#60;b onmouseover=…&#62; is inert).
    expect(html).not.to.match(/<script/i);
    expect(html).not.to.match(/<[a-z][^>]*\son\w+\s*=/i);
    expect(html).not.to.match(/<[a-z][^>]*=\s*["']?\s*javascript:/i);
    expect(html).not.to.match(/<(iframe|object|svg|form|input)/i);
    expect(html).to.include('&#60;script&#62;alert(&#34;title&#34;)&#60;/script&#62;');
    expect(html).to.include('<a href="/pages/p1.html">p1</a>');
    expect(html).not.to.include('/pages/../');
    // Only pages (and no leftover temporary files) in PUBLISH_DIR; nothing beside it —
    // once the page task has ended (its lock goes just after the page appears).
    await waitFor(() => service.pool.stats().inFlight === 0, 'its page task to end');
    const names = await readdir(dir);
    const index = ['index', 'sitemaps', 'sitemap.xml'];
    expect(names.every((n) => /^[A-Za-z0-9_-]+\.html$/.test(n) || index.includes(n)), names.join(' ')).to.equal(true);
    expect((await readdir(service.files)).toSorted()).to.deep.equal(['access.log', 'pages']);
  });

  it('never lets an entry called index take the place of the index page', async () => {
    upstream.set('index', { record: record('index', { title: 'Not the index' }) });
    expect((await service.get('/entries/index')).status).to.equal(200);
    await waitFor(() => service.pool.stats().inFlight === 0, 'its page task to end');
    const index = await readFile(join(dir, 'index.html'), 'utf8');
    expect(index).to.include('<h1>Published entries</h1>');
    expect(index).not.to.include('Not the index');
  });

  it('removes the page of an entry the upstream no longer has', async () => {
    upstream.set('gone', { record: record('gone') });
    expect((await service.get('/entries/gone')).status).to.equal(200);
    await waitFor(() => page('gone').catch(() => undefined), 'the page of gone');
    upstream.set('gone', { status: 404 });
    expect((await refresh('gone')).status).to.equal(202);
    await waitFor(() => page('gone').then(() => false, () => true), 'the page of gone to be removed');
    expect((await service.get('/pages/gone.html')).status).to.equal(404);
  });

  it('keeps the old page when a refresh finds the data invalid', async () => {
    const before = await page('p1');
    upstream.set('p1', { record: record('p1', { title: 'Broken', body: 42 }) });
    expect((await refresh('p1')).status).to.equal(202);
    await waitFor(async () => (await service.get('/entries/p1')).headers.get('cache-status')?.includes('invalid-upstream') || upstream.count('p1') >= 2, 'the invalid refresh');
    await waitFor(() => service.freshness.counters().refreshes.invalid >= 1, 'the invalid refresh to be counted');
    expect(await page('p1')).to.equal(before);
  });

  it('gives concurrent readers a whole page while the entry is published again and again', async function () {
    this.timeout(30_000);
    upstream.set('c1', { record: version(0) });
    expect((await service.get('/entries/c1')).status).to.equal(200);
    await waitFor(() => page('c1').catch(() => undefined), 'the first page of c1');
    // Whatever happens below, the readers stop.
    const state = { refreshing: true };
    const problems: string[] = [];
    let reads = 0;
    const reader = async () => {
      while (state.refreshing) {
        const res = await service.get('/pages/c1.html');
        const text = await res.text();
        reads++;
        const length = Number(res.headers.get('content-length'));
        if (res.status !== 200 || !text.startsWith('<!doctype html>') || !text.trimEnd().endsWith('</html>') || Buffer.byteLength(text) !== length) {
          problems.push(`${res.status} ${text.length}/${length}`);
        }
      }
    };
    const readers = Array.from({ length: 4 }, reader);
    try {
      for (let n = 1; n <= 20; n++) {
        upstream.set('c1', { record: version(n) });
        expect((await refresh('c1')).status).to.equal(202);
        await waitFor(async () => (await page('c1').catch(() => '')).includes(`Version ${n}<`), `version ${n} published`);
      }
    } finally {
      state.refreshing = false;
      await Promise.all(readers);
    }
    expect(upstream.count('c1')).to.equal(21);
    expect(reads).to.be.greaterThan(20);
    expect(problems).to.deep.equal([]);
  });

  it('never replaces a page with one of an older fetch, whichever worker finishes last', async () => {
    const publishDir = await mkdtemp(join(tmpdir(), 'freshen-pages-order-'));
    try {
      const publish = (title: string, fetchedAt: number) =>
        runTask({ kind: 'publish', id: 'o1', record: JSON.stringify(record('o1', { title })), hash: title.replaceAll(/\W/g, ''), fetchedAt, publishDir });
      const newer = Date.UTC(2031, 5, 1, 12, 0, 0, 250);
      expect(await publish('Newer', newer)).to.include({ kind: 'published' });
      expect(await publish('Older', newer - 1000)).to.deep.equal({ kind: 'superseded', id: 'o1' });
      expect(await readFile(join(publishDir, 'o1.html'), 'utf8')).to.include('<h1>Newer</h1>');
      // The page's modification time is its entry's fetch time (Last-Modified).
      expect(Math.floor((await stat(join(publishDir, 'o1.html'))).mtimeMs)).to.equal(newer);
      // The same fetch rendered again (a re-publish) does replace it.
      expect(await publish('Newer, restyled', newer)).to.include({ kind: 'published' });
      expect(await readFile(join(publishDir, 'o1.html'), 'utf8')).to.include('<h1>Newer, restyled</h1>');
      expect(await readdir(publishDir)).to.deep.equal(['o1.html']);
    } finally {
      await rm(publishDir, { recursive: true, force: true });
    }
  });

  it('keeps the newer page when an older fetch of it is published at the same moment', async () => {
    const publishDir = await mkdtemp(join(tmpdir(), 'freshen-pages-race-'));
    try {
      const publish = (id: string, title: string, fetchedAt: number) =>
        runTask({ kind: 'publish', id, record: JSON.stringify(record(id, { title })), hash: title, fetchedAt, publishDir });
      const newer = Date.UTC(2031, 5, 1, 12, 0, 0);
      const ids = Array.from({ length: 100 }, (_, n) => `race${n}`);
      // Each entry's two pages are written at once, older first or newer first by turns.
      await Promise.all(
        ids.map((id, n) => {
          const both = [() => publish(id, 'Older', newer - 1000), () => publish(id, 'Newer', newer)];
          return Promise.all((n % 2 === 0 ? both : both.toReversed()).map((write) => write()));
        }),
      );
      const older = [];
      for (const id of ids) if (!(await readFile(join(publishDir, `${id}.html`), 'utf8')).includes('<h1>Newer</h1>')) older.push(id);
      expect(older, 'entries left with the older page').to.deep.equal([]);
      expect((await readdir(publishDir)).toSorted()).to.deep.equal(ids.map((id) => `${id}.html`).toSorted());
    } finally {
      await rm(publishDir, { recursive: true, force: true });
    }
  });
});
