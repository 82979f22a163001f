// The parts of the HTTP contract around the entries: ids, errors as
// problem+json or HTML, unknown routes and methods, health, and the
// operator's refresh with its bearer token.
import { expect } from 'chai';
import { openDatabase } from '../db/knex.js';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';
import { manualClock, waitFor } from './support/wait.js';

const TOKEN = 'a-long-enough-admin-token';

describe('the HTTP contract', () => {
  let upstream: TestUpstream;
  let service: TestService;
  const clock = manualClock();

  useService({ now: clock.now, env: { ADMIN_TOKEN: TOKEN } }, (u, s) => {
    upstream = u;
    service = s;
  });

  const post = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${service.url}${path}`, { method: 'POST', headers });

  it('answers 400 as problem+json for an id outside ^[A-Za-z0-9_-]{1,128}$', async () => {
    for (const id of ['a b', 'é', 'a.json', 'x'.repeat(129), "'or'1'='1", '%3Cscript%3E']) {
      const res = await service.get(`/entries/${encodeURIComponent(id)}`);
      expect(res.status, id).to.equal(400);
      const problem = (await res.json()) as Record<string, unknown>;
      expect(problem).to.include({ status: 400, title: 'Bad request', type: 'urn:freshen:problem:bad-request' });
      expect(problem.instance).to.be.a('string');
    }
    expect(upstream.total()).to.equal(0);
    const longest = await service.get(`/entries/${'x'.repeat(128)}`);
    expect(longest.status).to.equal(404);
  });

  it('answers an unknown path with 404, as HTML for a browser', async () => {
    const json = await service.get('/nothing/here');
    expect(json.status).to.equal(404);
    expect(json.headers.get('content-type')).to.equal('application/problem+json');
    const html = await service.get('/nothing/here', { Accept: 'text/html,*/*;q=0.8' });
    expect(html.status).to.equal(404);
    expect(html.headers.get('content-type')).to.match(/^text\/html/);
    expect(await html.text()).to.include('<h1>Not found</h1>');
  });

  it('answers a wrong method with 405 and Allow', async () => {
    const res = await fetch(`${service.url}/entries/a1`, { method: 'DELETE' });
    expect(res.status).to.equal(405);
    expect(res.headers.get('allow')).to.include('GET');
  });

  it('answers / with where to look: a page for a browser, JSON for a program', async () => {
    const json = await service.get('/');
    expect(json.status).to.equal(200);
    const links = ((await json.json()) as { links: Record<string, string> }).links;
    expect(Object.keys(links)).to.include.members(['/entries/{id}', '/pages/', '/healthz', '/readyz', '/metrics', '/admin']);
    const html = await service.get('/', { Accept: 'text/html,*/*;q=0.8' });
    expect(html.headers.get('content-type')).to.match(/^text\/html/);
    expect(html.headers.get('content-security-policy')).to.include("default-src 'none'");
    expect(await html.text()).to.include('<a href="/pages/">/pages/</a>');
  });

  it('answers /healthz and /readyz', async () => {
    expect((await service.get('/healthz')).status).to.equal(200);
    const ready = await service.get('/readyz');
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.include({ status: 'ready' });
  });

  it('asks for a bearer token on the refresh endpoint: 401 without, 403 with a wrong one', async () => {
    const requests = upstream.total();
    const none = await post('/entries/a1/refresh');
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.include('Bearer realm="freshen"');
    const wrong = await post('/entries/a1/refresh', { Authorization: 'Bearer not-the-token-at-all' });
    expect(wrong.status).to.equal(403);
    const bad = await post('/entries/a%20b/refresh', { Authorization: `Bearer ${TOKEN}` });
    expect(bad.status).to.equal(400);
    expect(upstream.total()).to.equal(requests);
  });

  it('takes the token only as Bearer on the refresh endpoint, not as the Basic password a browser would send with any site’s form', async () => {
    const requests = upstream.total();
    const basic = `Basic ${Buffer.from(`operator:${TOKEN}`).toString('base64')}`;
    const forged = await post('/entries/a1/refresh', { Authorization: basic });
    expect(forged.status).to.equal(401);
    expect(upstream.total()).to.equal(requests);
    // Reading the status page with it is still fine.
    expect((await service.get('/admin', { Authorization: basic })).status).to.equal(200);
  });

  it('refreshes an entry on request, now, even a fresh one or one backing off', async () => {
    upstream.set('a1', { record: record('a1', { title: 'one' }) });
    expect((await service.get('/entries/a1')).status).to.equal(200);
    upstream.set('a1', { record: record('a1', { title: 'two' }) });
    const res = await post('/entries/a1/refresh', { Authorization: `Bearer ${TOKEN}` });
    expect(res.status).to.equal(202);
    expect(await res.json()).to.deep.equal({ id: 'a1', status: 'queued' });
    await waitFor(async () => (await (await service.get('/entries/a1')).text()).includes('"title":"two"'), 'the refresh');
    expect(upstream.count('a1')).to.equal(2);
  });
});

describe('the refresh endpoint without ADMIN_TOKEN', () => {
  let service: TestService;
  useService({}, (_upstream, s) => {
    service = s;
  });

  it('does not exist', async () => {
    const res = await fetch(`${service.url}/entries/a1/refresh`, {
      method: 'POST',
      headers: { Authorization: 'Bearer anything-at-all-here' },
    });
    expect(res.status).to.equal(404);
  });
});

describe('an error inside the service', () => {
  let service: TestService;
  useService({}, (_upstream, s) => {
    service = s;
  });

  it('answers 500 with the friendly text and no SQL or stack trace', async () => {
    // Break the database under the running service.
    const db = openDatabase(service.config.database);
    await db.schema.dropTable('entries');
    await db.destroy();
    for (const accept of ['application/json', 'text/html']) {
      const res = await service.get('/entries/a1', { Accept: accept });
      expect(res.status).to.equal(500);
      const text = await res.text();
      expect(text).to.match(/went wrong on our side/);
      for (const leak of ['no such table', 'select', 'SQLITE', 'relation "entries"', '    at ', 'Error:']) {
        expect(text).not.to.include(leak);
      }
    }
    const ready = await service.get('/readyz');
    expect(ready.status).to.equal(200);
  });
});
