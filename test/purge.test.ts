// Purges: entries named by id or by the cache tags their upstream gave them
// (Surrogate-Key, Cache-Tag), marked stale — served stale while the next read
// refreshes each once — or dropped; asked for by an operator (POST
// /admin/purge) or by the upstream's signed webhook (POST /hooks/entries),
// which is refused, with nothing changed, unless its signature is good, in
// time and new. A real service on the suite's database and runtime, a real
// loopback upstream counting its requests.
import { expect } from 'chai';
import { sign } from '../server/freshness/webhook.js';
import { startTestService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'an-operator-token-of-some-length';
const SECRET = 'a-webhook-secret-of-at-least-32-characters';

/** A purge asked of the service: its status and answer. */
async function purge(service: TestService, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${service.url}/admin/purge`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A webhook call, signed as the upstream signs it unless `signature` says otherwise. */
async function hook(url: string, body: string, signature?: string, source = 'entries'): Promise<{ status: number; body: Record<string, unknown> }> {
  const t = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  const sig = signature ?? `t=${t},v1=${sign(SECRET, t, body)}`;
  if (sig !== '') headers['X-Freshen-Signature'] = sig;
  const res = await fetch(`${url}/hooks/${source}`, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const statusOf = async (service: TestService, id: string) => (await service.get(`/entries/${id}`)).headers.get('cache-status') ?? '';

describe('purges', function () {
  this.timeout(30_000);
  let upstream: TestUpstream;
  let service: TestService;

  before(async () => {
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url, { env: { ADMIN_TOKEN: TOKEN, WEBHOOK_SECRET: SECRET, ENTRY_TTL_SECONDS: '300' } });
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
  });

  /** Entries stored and held fresh, with the tags given (Surrogate-Key or Cache-Tag). */
  async function stored(entries: Record<string, Record<string, string>>): Promise<void> {
    for (const [id, headers] of Object.entries(entries)) upstream.set(id, { record: record(id), headers });
    for (const id of Object.keys(entries)) expect((await service.get(`/entries/${id}`)).status).to.equal(200);
    for (const id of Object.keys(entries)) expect(await statusOf(service, id)).to.match(/^freshen; hit/);
  }

  /** Reads each entry `times` times at once; waits until every refresh the reads started has ended. */
  async function readAll(ids: string[], times: number): Promise<string[]> {
    const statuses: string[] = [];
    for (let i = 0; i < times; i++) {
      statuses.push(...(await Promise.all(ids.map((id) => statusOf(service, id)))));
    }
    await waitFor(() => ids.every((id) => !service.freshness.refreshing(id)), 'the refreshes to end');
    return statuses;
  }

  it('by tag marks exactly the tagged entries stale, and the next read refreshes each once', async () => {
    await stored({
      t1: { 'Surrogate-Key': 'shoes red' },
      t2: { 'Cache-Tag': 'blue, shoes' },
      t3: { 'Surrogate-Key': 'hats' },
      t4: {},
    });
    const purged = await purge(service, { tags: ['shoes'] });
    expect(purged).to.deep.include({ status: 200 });
    expect(purged.body).to.include({ source: 'entries', hard: false, matched: 2 });

    // The tagged ones are served stale (not waited on) while refreshed; the others stay hits.
    expect(await statusOf(service, 't1')).to.match(/^freshen; fwd=stale/);
    expect(await statusOf(service, 't2')).to.match(/^freshen; fwd=stale/);
    expect(await statusOf(service, 't3')).to.match(/^freshen; hit/);
    expect(await statusOf(service, 't4')).to.match(/^freshen; hit/);
    await readAll(['t1', 't2', 't3', 't4'], 5);
    expect(['t1', 't2', 't3', 't4'].map((id) => upstream.count(id))).to.deep.equal([2, 2, 1, 1]);
    // Fresh again: further reads are hits, and ask the upstream nothing.
    for (const s of await readAll(['t1', 't2'], 3)) expect(s).to.match(/^freshen; hit/);
    expect(upstream.count('t1') + upstream.count('t2')).to.equal(4);
  });

  it('by several tags counts an entry carrying more than one of them once', async () => {
    await stored({ m1: { 'Surrogate-Key': 'a b' }, m2: { 'Surrogate-Key': 'b' }, m3: { 'Cache-Tag': 'a' }, m4: { 'Cache-Tag': 'c' } });
    const purged = await purge(service, { tags: ['a', 'b'] });
    expect(purged.body).to.include({ matched: 3 });
    await readAll(['m1', 'm2', 'm3', 'm4'], 2);
    expect(['m1', 'm2', 'm3', 'm4'].map((id) => upstream.count(id))).to.deep.equal([2, 2, 2, 1]);
  });

  it('follows the tags the upstream gives now: a tag an entry no longer has does not purge it', async () => {
    await stored({ r1: { 'Surrogate-Key': 'old-line' } });
    upstream.set('r1', { record: record('r1'), headers: { 'Surrogate-Key': 'new-line' } });
    expect((await purge(service, { ids: ['r1'] })).body).to.include({ matched: 1 });
    await readAll(['r1'], 1);
    expect(upstream.count('r1')).to.equal(2);
    expect((await purge(service, { tags: ['old-line'] })).body).to.include({ matched: 0 });
    expect((await purge(service, { tags: ['new-line'] })).body).to.include({ matched: 1 });
  });

  it('keeps the tags through a 304 that names none, and takes those one names', async () => {
    upstream.set('v1', { record: record('v1'), etag: '"v1"', headers: { 'Surrogate-Key': 'kept' } });
    expect((await service.get('/entries/v1')).status).to.equal(200);
    // A purge makes the next refresh unconditional: the record is fetched whole.
    expect((await purge(service, { tags: ['kept'] })).body).to.include({ matched: 1 });
    await readAll(['v1'], 1);
    expect(upstream.headersOf('v1')?.['if-none-match']).to.equal(undefined);
    expect(upstream.count('v1')).to.equal(2);
    // An operator's refresh is conditional: the 304 carries no tag, the tag stands.
    upstream.set('v1', { record: record('v1'), etag: '"v1"' });
    await fetch(`${service.url}/entries/v1/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    await waitFor(() => upstream.notModified('v1') === 1, 'the 304');
    await waitFor(() => !service.freshness.refreshing('v1'), 'the refresh to end');
    expect((await purge(service, { tags: ['kept'] })).body).to.include({ matched: 1 });
    await readAll(['v1'], 1);
    // A 304 that names tags replaces them.
    upstream.set('v1', { record: record('v1'), etag: '"v1"', headers: { 'Cache-Tag': 'newer' } });
    await fetch(`${service.url}/entries/v1/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    await waitFor(() => upstream.notModified('v1') === 2, 'the second 304');
    await waitFor(() => !service.freshness.refreshing('v1'), 'the refresh to end');
    expect((await purge(service, { tags: ['kept'] })).body).to.include({ matched: 0 });
    expect((await purge(service, { tags: ['newer'] })).body).to.include({ matched: 1 });
  });

  it('lands on a refresh under way: the refresh after it is fetched whole, and the entry is fresh again after', async () => {
    upstream.set('u1', { record: record('u1'), etag: '"u1"' });
    expect((await service.get('/entries/u1')).status).to.equal(200);
    // An operator's refresh, conditional, whose 304 is held until the purge has landed.
    const gate: { open?: () => void } = {};
    const purged = new Promise<void>((resolve) => (gate.open = resolve));
    upstream.set('u1', { record: record('u1'), etag: '"u1"', until: purged });
    await fetch(`${service.url}/entries/u1/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    await waitFor(() => upstream.count('u1') === 2, 'the refresh to reach the upstream');
    expect((await purge(service, { ids: ['u1'] })).body).to.include({ matched: 1 });
    // Released: the held 304 is answered, and the refresh after the purge at once.
    gate.open?.();
    await waitFor(() => upstream.count('u1') === 3 && !service.freshness.refreshing('u1'), 'the refresh after the purge');
    expect(upstream.notModified('u1')).to.equal(1);
    expect(upstream.headersOf('u1')?.['if-none-match']).to.equal(undefined);
    // Its own TTL again (not the purge's): reads are hits and ask nothing.
    for (let i = 0; i < 3; i++) expect(await statusOf(service, 'u1')).to.match(/^freshen; hit/);
    expect(upstream.count('u1')).to.equal(3);
  });

  it('by id, hard, drops the entries and their pages: the next read is a miss', async () => {
    await stored({ h1: {}, h2: { 'Surrogate-Key': 'gone' }, h3: {} });
    const pageOf = (id: string) => service.get(`/pages/${id}.html`).then((r) => r.status);
    await waitFor(async () => (await pageOf('h1')) === 200 && (await pageOf('h2')) === 200, 'the pages published');
    const purged = await purge(service, { ids: ['h1', 'h2', 'nowhere'], hard: true });
    expect(purged.body).to.include({ hard: true, matched: 2 });
    await waitFor(async () => (await pageOf('h1')) === 404 && (await pageOf('h2')) === 404, 'the pages taken down');
    expect(await pageOf('h3')).to.equal(200);
    expect(await statusOf(service, 'h1')).to.match(/^freshen; fwd=miss/);
    expect(await statusOf(service, 'h3')).to.match(/^freshen; hit/);
    expect(upstream.count('h1')).to.equal(2);
    // Its tags went with it.
    expect((await purge(service, { tags: ['gone'] })).body).to.include({ matched: 0 });
  });

  it('runs a purge of more entries than a batch in several batches', async () => {
    const ids = Array.from({ length: 2500 }, (_, i) => `many-${i}`);
    const purged = await purge(service, { ids });
    expect(purged.body).to.include({ matched: 0, batches: 3 });
  });

  it('is refused without the Bearer token, or with a body that is not a purge, and changes nothing', async () => {
    await stored({ b1: { 'Surrogate-Key': 'kept' } });
    const asked = (init: RequestInit) => fetch(`${service.url}/admin/purge`, { method: 'POST', ...init }).then((r) => r.status);
    const body = JSON.stringify({ ids: ['b1'] });
    expect(await asked({ body, headers: { 'Content-Type': 'application/json' } })).to.equal(401);
    expect(await asked({ body, headers: { 'Content-Type': 'application/json', Authorization: 'Bearer not-the-token-at-all' } })).to.equal(403);
    const basic = `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`;
    expect(await asked({ body, headers: { 'Content-Type': 'application/json', Authorization: basic } })).to.equal(401);
    expect(await asked({ body, headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'text/plain' } })).to.equal(415);

    const refused: Array<[unknown, RegExp]> = [
      ['{"ids": [', /not JSON/],
      [{}, /"ids" or by "tags"/],
      [{ ids: ['b1'], tags: ['kept'] }, /"ids" or by "tags"/],
      [{ ids: [] }, /ids/],
      [{ ids: ['a/b'] }, /ids\.0: an entry id/],
      [{ tags: ['with,comma'] }, /tags\.0: a tag/],
      [{ ids: ['b1'], hard: 'yes' }, /hard/],
      [{ ids: ['b1'], everything: true }, /everything/],
      [{ source: 'products', ids: ['b1'] }, /no source "products"/],
      [{ ids: Array.from({ length: 10_001 }, (_, i) => `x${i}`) }, /ids/],
    ];
    for (const [wrong, detail] of refused) {
      const answer = await purge(service, wrong);
      expect(answer.status, JSON.stringify(wrong).slice(0, 80)).to.equal(400);
      expect(answer.body.detail).to.match(detail);
    }
    const big = await purge(service, JSON.stringify({ ids: ['b1'], pad: 'x'.repeat(1_500_000) }));
    expect(big.status).to.equal(413);
    expect(await statusOf(service, 'b1')).to.match(/^freshen; hit/);
    expect(upstream.count('b1')).to.equal(1);
  });

  describe('by the signed webhook', () => {
    it('marks the entries stale when signed, in time and new', async () => {
      await stored({ w1: { 'Surrogate-Key': 'spring' }, w2: { 'Surrogate-Key': 'spring' }, w3: {} });
      const answer = await hook(service.url, JSON.stringify({ tags: ['spring'] }));
      expect(answer.status).to.equal(200);
      expect(answer.body).to.include({ source: 'entries', hard: false, matched: 2 });
      await readAll(['w1', 'w2', 'w3'], 2);
      expect(['w1', 'w2', 'w3'].map((id) => upstream.count(id))).to.deep.equal([2, 2, 1]);
      const byId = await hook(service.url, JSON.stringify({ ids: ['w3'] }));
      expect(byId.body).to.include({ matched: 1 });
    });

    it('refuses a call unsigned, wrongly signed, out of time, replayed or for another source, and changes nothing', async () => {
      await stored({ x1: { 'Surrogate-Key': 'autumn' } });
      const body = JSON.stringify({ tags: ['autumn'] });
      const t = Math.floor(Date.now() / 1000);
      const good = `t=${t},v1=${sign(SECRET, t, body)}`;
      expect((await hook(service.url, body, good)).status).to.equal(200);
      await readAll(['x1'], 1);
      expect(upstream.count('x1')).to.equal(2);

      const refusals: Array<[string, string, RegExp]> = [
        ['unsigned', '', /X-Freshen-Signature/],
        ['replayed', good, /used before/],
        ['signed with another key', `t=${t},v1=${sign('another-secret-of-at-least-32-characters', t, body)}`, /does not match/],
        ['signed for another body', `t=${t},v1=${sign(SECRET, t, JSON.stringify({ tags: ['other'] }))}`, /does not match/],
        ['signed for another time', `t=${t + 1},v1=${sign(SECRET, t, body)}`, /does not match/],
        ['six minutes old', `t=${t - 360},v1=${sign(SECRET, t - 360, body)}`, /5 minutes/],
        ['six minutes ahead', `t=${t + 360},v1=${sign(SECRET, t + 360, body)}`, /5 minutes/],
        ['malformed', 'v1=abc,t=now', /X-Freshen-Signature/],
      ];
      // Unsigned, it is refused as such whatever it sends.
      const plain = await fetch(`${service.url}/hooks/entries`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body });
      expect(plain.status).to.equal(401);
      for (const [what, signature, detail] of refusals) {
        const answer = await hook(service.url, body, signature);
        expect(answer.status, what).to.equal(401);
        expect(answer.body.detail, what).to.match(detail);
      }
      expect((await hook(service.url, body, undefined, 'products')).status).to.equal(404);
      expect(await statusOf(service, 'x1')).to.match(/^freshen; hit/);
      expect(upstream.count('x1')).to.equal(2);
    });

    it('does not use up the signature of a call whose body was refused: the upstream may send it again', async () => {
      const t = Math.floor(Date.now() / 1000);
      const wrong = JSON.stringify({ tags: [] });
      expect((await hook(service.url, wrong, `t=${t},v1=${sign(SECRET, t, wrong)}`)).status).to.equal(400);
      // The same signature again: it was released, not taken (the upstream may retry it).
      expect((await hook(service.url, wrong, `t=${t},v1=${sign(SECRET, t, wrong)}`)).status).to.equal(400);
    });
  });
});
