// Two nodes on one database, each with a publish directory of its own,
// converge on the same pages: a page is checked by the hash of the record it
// was made from (not its fetch time, which every 304 moves). A node's 304
// writes its page where the node lacks it or holds another version, and
// nothing where the page is current; the repair brings a node that refreshes
// nothing itself to the copy's pages (and removes a page whose entry is gone).
import { expect } from 'chai';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { manualClock, waitFor } from './support/wait.js';

const pageOf = (node: TestService, id: string) => readFile(join(node.config.publish.dir, `${id}.html`), 'utf8').catch(() => undefined);
const titleOn = async (node: TestService, id: string) => /<h1>([^<]*)<\/h1>/.exec((await pageOf(node, id)) ?? '')?.[1];
const markOf = async (node: TestService, id: string) => {
  const info = await stat(join(node.config.publish.dir, `${id}.html`));
  return `${info.ino}-${info.mtimeMs}`;
};
const pagesEvent = async (node: TestService, event: string) =>
  Number(new RegExp(`^freshen_pages_total\\{event="${event}"\\} (\\d+)`, 'm').exec(await (await node.get('/metrics')).text())?.[1] ?? 0);

describe('pages on two nodes with publish directories of their own', function () {
  this.timeout(60_000);
  const clock = manualClock();
  const env = { ENTRY_TTL_SECONDS: '60', PUBLISH_INDEX_SECONDS: '0.05' };
  let upstream: TestUpstream;
  let a: TestService;
  let b: TestService | undefined;

  before(async () => {
    upstream = await startTestUpstream();
    a = await startTestService(upstream.url, { now: clock.now, env: { ...env, PUBLISH_REPAIR_SECONDS: '0' } });
  });
  afterEach(async () => {
    await b?.stop();
    b = undefined;
  });
  after(async () => {
    await a?.stop();
    await upstream?.close();
  });

  /** Read the entry on a node after its TTL: a stale read, refreshed behind the answer. */
  async function readStale(node: TestService, id: string): Promise<void> {
    clock.advance(61_000);
    expect((await node.get(`/entries/${id}`)).headers.get('cache-status')).to.match(/^freshen; fwd=stale/);
  }

  it('writes on a 304 a page the node lacks or holds of another version, and nothing where its page is current', async () => {
    upstream.set('r1', { record: record('r1', { title: 'First' }), etag: '"v1"' });
    expect((await a.get('/entries/r1')).status).to.equal(200);
    await waitFor(async () => (await titleOn(a, 'r1')) === 'First', "A's page of r1");
    // B starts after A stored r1: it never heard of that store, and has no page of r1.
    b = await startTestService(upstream.url, { database: a.database, now: clock.now, env: { ...env, PUBLISH_REPAIR_SECONDS: '0' } });
    expect(await pageOf(b, 'r1')).to.equal(undefined);

    await readStale(b, 'r1');
    await waitFor(() => upstream.notModified('r1') === 1 || undefined, "B's conditional refresh");
    await waitFor(async () => (await titleOn(b as TestService, 'r1')) === 'First', "B's page, written on its 304");

    // A current page: a 304 leaves it as it is.
    const mark = await markOf(b, 'r1');
    const unchanged = await pagesEvent(b, 'unchanged');
    await readStale(b, 'r1');
    await waitFor(() => upstream.notModified('r1') === 2 || undefined, "B's second conditional refresh");
    await waitFor(async () => (await pagesEvent(b as TestService, 'unchanged')) === unchanged + 1 || undefined, 'the page left as it was');
    expect(await markOf(b, 'r1')).to.equal(mark);

    // A changed record, stored by B: A holds a page of the old version until A's own 304 rewrites it.
    upstream.set('r1', { record: record('r1', { title: 'Second' }), etag: '"v2"' });
    await readStale(b, 'r1');
    await waitFor(async () => (await titleOn(b as TestService, 'r1')) === 'Second', "B's page of the new version");
    await readStale(a, 'r1');
    await waitFor(() => upstream.notModified('r1') === 3 || undefined, "A's conditional refresh");
    await waitFor(async () => (await titleOn(a, 'r1')) === 'Second', "A's page of the new version, written on its 304");
  });

  it('brings a node that refreshes nothing to the pages of the copy: new, changed and gone', async () => {
    b = await startTestService(upstream.url, { database: a.database, now: clock.now, env: { ...env, PUBLISH_REPAIR_SECONDS: '1' } });
    upstream.set('s1', { record: record('s1', { title: 'Kept' }), etag: '"k1"' });
    upstream.set('s2', { record: record('s2', { title: 'Old' }) });
    expect((await a.get('/entries/s1')).status).to.equal(200);
    expect((await a.get('/entries/s2')).status).to.equal(200);
    await waitFor(async () => (await titleOn(b as TestService, 's1')) === 'Kept' && (await titleOn(b as TestService, 's2')) === 'Old', "B's pages of A's entries", 20_000);

    // A page dropped on B (a write that failed, a crash) comes back.
    await rm(join(b.config.publish.dir, 's1.html'));
    upstream.set('s2', { record: record('s2', { title: 'New' }) });
    await readStale(a, 's2');
    await waitFor(async () => (await titleOn(a, 's2')) === 'New', "A's page of s2's new version");
    await waitFor(async () => (await titleOn(b as TestService, 's2')) === 'New' && (await titleOn(b as TestService, 's1')) === 'Kept', "B's pages again", 20_000);

    // The upstream no longer has s2: both nodes' pages of it go.
    upstream.set('s2', { status: 404 });
    await readStale(a, 's2');
    await waitFor(async () => (await pageOf(a, 's2')) === undefined, "A's page of s2 removed");
    await waitFor(async () => (await pageOf(b as TestService, 's2')) === undefined, "B's page of s2 removed", 20_000);
    expect(await titleOn(b, 's1')).to.equal('Kept');
  });
});
