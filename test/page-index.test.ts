// The published index in shards, with sitemaps beside (sitemaps.org): each
// entry is listed in the shard its id hashes to; a change rewrites that shard
// and the top, not the others; a directory with an index of another layout
// gets every shard built at start, and the files of the old layout go.
import { expect } from 'chai';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { shardKeyOf, shardName, shardOf } from '../shared/publish-layout.js';
import { startTestService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const SHARDS = 8;
const PUBLIC = 'https://example.test/base';

const shardOfId = (id: string, shards = SHARDS) => shardOf(shardKeyOf(id), shards);

describe('the published index in shards', function () {
  this.timeout(30_000);
  let upstream: TestUpstream;
  let service: TestService;
  let dir: string;
  const ids = Array.from({ length: 24 }, (_, i) => `ix${i}`);

  before(async () => {
    upstream = await startTestUpstream();
    for (const id of [...ids, 'late']) upstream.set(id, { record: record(id, { title: `Title of ${id}` }) });
    service = await startTestService(upstream.url, {
      env: { PUBLISH_INDEX_SHARDS: String(SHARDS), PUBLISH_INDEX_SECONDS: '0.05', PUBLIC_URL: `${PUBLIC}/`, PUBLISH_REPAIR_SECONDS: '0' },
    });
    dir = service.config.publish.dir;
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
  });

  const text = (path: string) => readFile(join(dir, path), 'utf8');
  const listed = async (shard: number, shards = SHARDS) =>
    [...(await text(`index/${shardName(shard, shards)}.html`).catch(() => '')).matchAll(/<a href="\/pages\/([\w-]+)\.html">/g)].map((m) => m[1]);
  /** Inode and modification time of every shard file: what a rewrite changes. */
  async function shardFiles(): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    for (const sub of ['index', 'sitemaps']) {
      for (const name of (await readdir(join(dir, sub))).filter((n) => /^\d+\.(html|xml)$/.test(n))) {
        const info = await stat(join(dir, sub, name));
        files.set(`${sub}/${name}`, `${info.ino}-${info.mtimeMs}`);
      }
    }
    return files;
  }

  it('lists each entry in the shard its id hashes to, with a sitemap of absolute URLs beside, and a top page and sitemap index of the shards', async () => {
    for (const id of ids) expect((await service.get(`/entries/${id}`)).status).to.equal(200);
    await waitFor(async () => (await text('index.html').catch(() => '')).includes(`${ids.length} entries`) || undefined, 'the top to count every entry');

    const shards = new Map<number, string[]>();
    for (const id of ids) shards.set(shardOfId(id), [...(shards.get(shardOfId(id)) ?? []), id]);
    expect(shards.size, 'the entries spread over several shards').to.be.greaterThan(2);
    for (let shard = 0; shard < SHARDS; shard++) {
      expect(await listed(shard), `shard ${shard}`).to.deep.equal((shards.get(shard) ?? []).toSorted());
    }

    const top = await (await service.get('/pages/')).text();
    for (const [shard, members] of shards) {
      expect(top).to.include(`<a href="/pages/index/${shardName(shard, SHARDS)}.html">Index page ${shardName(shard, SHARDS)}</a> <span class="meta">${members.length} entries</span>`);
    }
    const sitemapIndex = await service.get('/pages/sitemap.xml');
    expect(sitemapIndex.headers.get('content-type')).to.equal('application/xml; charset=utf-8');
    const locs = [...(await sitemapIndex.text()).matchAll(/<loc>([^<]+)<\/loc><lastmod>([^<]+)<\/lastmod>/g)];
    expect(locs.map((m) => m[1]).toSorted()).to.deep.equal([...shards.keys()].map((s) => `${PUBLIC}/pages/sitemaps/${shardName(s, SHARDS)}.xml`).toSorted());
    const [first] = shards.keys();
    const sitemap = await (await service.get(`/pages/sitemaps/${shardName(first as number, SHARDS)}.xml`)).text();
    expect(sitemap.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">')).to.equal(true);
    for (const id of shards.get(first as number) ?? []) {
      expect(sitemap).to.match(new RegExp(`<url><loc>${PUBLIC}/pages/${id}\\.html</loc><lastmod>\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z</lastmod></url>`));
    }
    for (const bad of ['/pages/index/x.html', '/pages/index/1.xml', '/pages/sitemaps/1.html', '/pages/sitemaps/..%2Fsitemap.xml']) {
      expect((await service.get(bad)).status, bad).to.equal(404);
    }
  });

  it('rewrites the one shard a new entry falls in, and the top, and leaves every other shard file as it was', async () => {
    // Every page of the first entries written (each write marks its shard to
    // rewrite), and the shard files unchanged for longer than the index's delay
    // since: nothing of the last test is still on its way to the disk.
    await waitFor(async () => (await Promise.all(ids.map((id) => stat(join(dir, `${id}.html`)).then(() => true, () => false)))).every(Boolean), 'every page written');
    let seen = { files: '', since: performance.now() };
    await waitFor(async () => {
      const files = JSON.stringify([...(await shardFiles())]);
      if (files !== seen.files) seen = { files, since: performance.now() };
      return performance.now() - seen.since > 500;
    }, 'the shard files to settle');
    const before = await shardFiles();
    const topBefore = (await stat(join(dir, 'index.html'))).mtimeMs;
    expect((await service.get('/entries/late')).status).to.equal(200);
    const mine = shardOfId('late');
    await waitFor(async () => (await listed(mine)).includes('late') || undefined, "the new entry's shard to list it");
    await waitFor(async () => (await text('index.html')).includes(`${ids.length + 1} entries`) || undefined, 'the top to count it');
    const after = await shardFiles();
    const changed = [...after].filter(([name, mark]) => before.get(name) !== mark).map(([name]) => name);
    expect(changed.toSorted()).to.deep.equal([`index/${shardName(mine, SHARDS)}.html`, `sitemaps/${shardName(mine, SHARDS)}.xml`]);
    expect((await stat(join(dir, 'index.html'))).mtimeMs).to.be.greaterThan(topBefore);
  });

  it('builds every shard at start where the index in place has another layout, and removes the old layout’s files', async () => {
    const other = await startTestService(upstream.url, {
      database: service.database,
      env: { PUBLISH_DIR: dir, PUBLISH_INDEX_SHARDS: '3', PUBLISH_INDEX_SECONDS: '0.05', PUBLISH_REPAIR_SECONDS: '0' },
    });
    try {
      await waitFor(async () => (await readdir(join(dir, 'index'))).toSorted().join() === '0.html,1.html,2.html,shards.json' || undefined, 'three shards and no others');
      await waitFor(async () => (await text('index.html')).includes(`${ids.length + 1} entries on`) || undefined, 'the top of three shards');
      const all = [...(await listed(0, 3)), ...(await listed(1, 3)), ...(await listed(2, 3))];
      expect(all.toSorted()).to.deep.equal([...ids, 'late'].toSorted());
      await waitFor(async () => (await readdir(join(dir, 'sitemaps'))).toSorted().join() === '0.xml,1.xml,2.xml' || undefined, 'three sitemaps and no others');
      // Its sitemaps link where it listens, PUBLIC_URL being unset.
      expect(await text('sitemaps/0.xml')).to.include(`<loc>${other.url}/pages/`);
    } finally {
      await other.stop();
    }
  });
});
