// Lists and reads through a relation take the same freshness check as a
// single read: a stale entry reached either way is served and refreshed.
import { expect } from 'chai';
import { LIST_MAX_BYTES } from '../server/http/routes/entries.js';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

interface ListBody {
  id?: string;
  entries: Array<{ id: string; data: { title: string } }>;
  errors: Array<{ id: string; status: number }>;
}

describe('list and related reads', () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();

  useService({ now: clock.now, env: { ENTRY_TTL_SECONDS: '60' } }, (u, s) => {
    upstream = u;
    service = s;
    upstream.set('a', { record: record('a', { related: ['b', 'c', 'nowhere'] }) });
    upstream.set('b', { record: record('b', { title: 'b v1' }) });
    upstream.set('c', { record: record('c', { title: 'c v1' }) });
  });

  const list = async (path: string) => {
    const res = await service.get(path);
    expect(res.status, path).to.equal(200);
    return (await res.json()) as ListBody;
  };

  it('answers a list in the order asked, with failures beside the entries', async () => {
    const body = await list('/entries?ids=c,a,nowhere,b,a');
    expect(body.entries.map((e) => e.id)).to.deep.equal(['c', 'a', 'b']);
    expect(body.errors).to.deep.equal([
      { id: 'nowhere', status: 404, title: 'Not found', detail: 'There is no such entry.' },
    ]);
    expect(upstream.count('a')).to.equal(1);
  });

  it('carries at most LIST_MAX_BYTES of entries, and lists the rest as too large to read one by one', async function () {
    this.timeout(30_000);
    // Twelve records of 0.7 to 0.9 MB: more than one list answer carries.
    const ids = Array.from({ length: 12 }, (_, n) => `big${n}`);
    for (const id of ids) upstream.set(id, { record: record(id, { body: id.repeat(180_000) }) });
    const res = await service.get(`/entries?ids=${ids.join(',')}`);
    expect(res.status).to.equal(200);
    const text = await res.text();
    expect(Number(res.headers.get('content-length'))).to.equal(Buffer.byteLength(text));
    expect(Buffer.byteLength(text)).to.be.at.most(LIST_MAX_BYTES + 64 * 1024);
    const body = JSON.parse(text) as ListBody;
    const carried = body.entries.map((e) => e.id);
    expect(carried).to.deep.equal(ids.slice(0, carried.length));
    expect(carried.length).to.be.within(1, ids.length - 1);
    expect(body.errors.map((e) => [e.id, e.status])).to.deep.equal(ids.slice(carried.length).map((id) => [id, 413]));
    // Each of them is there to read alone.
    const alone = await service.get(`/entries/${ids.at(-1)}`);
    expect(alone.status).to.equal(200);
  });

  it('takes ?ids=a&ids=b as ?ids=a,b', async () => {
    const body = await list('/entries?ids=c&ids=a,b');
    expect(body.entries.map((e) => e.id)).to.deep.equal(['c', 'a', 'b']);
  });

  it('refreshes a stale entry reached through a list', async () => {
    upstream.set('c', { record: record('c', { title: 'c v2' }) });
    clock.advance(61_000);
    const body = await list('/entries?ids=c');
    expect(body.entries[0]?.data.title).to.equal('c v1');
    await waitFor(() => upstream.count('c') === 2, 'the refresh of c');
    await waitFor(async () => (await list('/entries?ids=c')).entries[0]?.data.title === 'c v2', 'c v2 stored');
  });

  it('refreshes a stale entry reached through a relation', async () => {
    upstream.set('b', { record: record('b', { title: 'b v2' }) });
    clock.advance(61_000);
    const before = upstream.count('b');
    const body = await list('/entries/a/related');
    expect(body.id).to.equal('a');
    expect(body.entries.map((e) => e.id)).to.deep.equal(['b', 'c']);
    expect(body.entries[0]?.data.title).to.equal('b v1');
    expect(body.errors.map((e) => [e.id, e.status])).to.deep.equal([['nowhere', 404]]);
    await waitFor(() => upstream.count('b') === before + 1, 'the refresh of b');
    await waitFor(
      async () => (await list('/entries/a/related')).entries[0]?.data.title === 'b v2',
      'b v2 reached through the relation',
    );
  });

  it('answers 404 for the related entries of an entry that does not exist', async () => {
    const res = await service.get('/entries/nowhere/related');
    expect(res.status).to.equal(404);
  });

  it('refuses a list without ids, with a bad id, or with more than 100 ids', async () => {
    for (const query of ['', '?ids=', '?ids=,,', '?ids=a,b%2Fc', `?ids=${Array.from({ length: 101 }, (_, i) => `n${i}`).join(',')}`]) {
      const res = await service.get(`/entries${query}`);
      expect(res.status, query).to.equal(400);
      expect(res.headers.get('content-type')).to.equal('application/problem+json');
    }
    const exactly100 = await service.get(`/entries?ids=${Array.from({ length: 100 }, () => 'a').join(',')}`);
    expect(exactly100.status).to.equal(200);
  });
});
