// With no row to fall back on, each way the upstream can fail gives its own
// answer, within its bound, with nothing internal in it.
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestUpstream, record, type TestUpstream } from './support/upstream.js';
import { startTestService, type TestService } from './support/service.js';
import { waitFor } from './support/wait.js';

async function timed(service: TestService, path: string, headers: Record<string, string> = {}) {
  const started = performance.now();
  const res = await service.get(path, headers);
  const text = await res.text();
  return { res, text, ms: performance.now() - started };
}

function expectNoInternals(text: string) {
  for (const leak of ['Error:', '    at ', 'select ', 'SQLITE', 'ECONNREFUSED', 'must be', 'problems', '127.0.0.1']) {
    expect(text).not.to.include(leak);
  }
}

describe('upstream failures with no stored row', () => {
  let upstream: TestUpstream;
  let service: TestService;

  before(async () => {
    upstream = await startTestUpstream();
    // Each entry's own answer, one failure at a time: the upstream's breaker,
    // which a Retry-After opens for every entry, is off here (see upstream-breaker).
    service = await startTestService(upstream.url, {
      env: { UPSTREAM_TIMEOUT_MS: '400', UPDATER_TASK_TIMEOUT_MS: '3000', UPSTREAM_MAX_BYTES: '65536', UPSTREAM_BREAKER_FAILURE_PERCENT: '0' },
    });
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
  });

  it('answers 404 when the upstream says 404', async () => {
    const { res, text } = await timed(service, '/entries/gone');
    expect(res.status).to.equal(404);
    expect(res.headers.get('content-type')).to.equal('application/problem+json');
    expect(JSON.parse(text)).to.include({ status: 404, type: 'urn:freshen:problem:not-found' });
    // The answer is remembered for the TTL: no second request.
    expect((await service.get('/entries/gone')).status).to.equal(404);
    expect(upstream.count('gone')).to.equal(1);
  });

  it('answers 502 with a friendly problem for data that fails the schema', async () => {
    upstream.set('bad1', { record: record('bad1', { title: '', related: 'nope' }) });
    const { res, text } = await timed(service, '/entries/bad1');
    expect(res.status).to.equal(502);
    const problem = JSON.parse(text) as Record<string, unknown>;
    expect(problem).to.include({ status: 502, type: 'urn:freshen:problem:upstream-invalid' });
    expect(problem.detail).to.match(/sorry/i);
    expectNoInternals(text);
  });

  it('shows the friendly 502 page to a browser', async () => {
    upstream.set('bad2', { record: { id: 'bad2' } });
    const { res, text } = await timed(service, '/entries/bad2', { Accept: 'text/html' });
    expect(res.status).to.equal(502);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(text).to.include('<h1>This entry cannot be shown right now</h1>');
    expectNoInternals(text);
  });

  it('answers 502 for an answer that is not JSON', async () => {
    upstream.set('html', { status: 200, body: '<html>oops</html>' });
    const { res } = await timed(service, '/entries/html');
    expect(res.status).to.equal(502);
  });

  it('answers 502 for an answer past UPSTREAM_MAX_BYTES, cutting the download off', async () => {
    // 64 chunks of 4 KiB, one every 20 ms: the cap (64 KiB) is passed after 16.
    upstream.set('huge', { stream: { chunkBytes: 4096, chunks: 64, intervalMs: 20 } });
    const { res } = await timed(service, '/entries/huge');
    expect(res.status).to.equal(502);
    expect(upstream.streamedChunks('huge')).to.be.below(64);
  });

  it('answers 502 for a declared Content-Length past the cap without reading it', async () => {
    upstream.set('big', { status: 200, body: 'x'.repeat(70_000) });
    const { res } = await timed(service, '/entries/big');
    expect(res.status).to.equal(502);
  });

  it('answers 503 with Retry-After when the upstream answers 5xx', async () => {
    upstream.set('down', { status: 502 });
    const { res, text } = await timed(service, '/entries/down');
    expect(res.status).to.equal(503);
    expect(Number(res.headers.get('retry-after'))).to.be.at.least(1);
    expectNoInternals(text);
  });

  it('waits as long as the upstream’s Retry-After asks (seconds or a date) before asking again', async () => {
    const inTwoMinutes = new Date(Date.now() + 120_000).toUTCString();
    for (const [id, value] of [['busy1', '120'], ['busy2', inTwoMinutes]] as const) {
      upstream.set(id, { status: 503, headers: { 'retry-after': value } });
      const res = await service.get(`/entries/${id}`);
      expect(res.status, id).to.equal(503);
      expect(Number(res.headers.get('retry-after')), id).to.be.within(110, 121);
      expect((await service.get(`/entries/${id}`)).headers.get('cache-status'), id).to.equal('freshen; fwd=miss; detail=backoff');
      expect(upstream.count(id), id).to.equal(1);
    }
  });

  it('answers 504 with Retry-After when the upstream is slower than UPSTREAM_TIMEOUT_MS, within that bound', async () => {
    upstream.set('slow', { record: record('slow'), delayMs: 2000 });
    const { res, ms } = await timed(service, '/entries/slow');
    expect(res.status).to.equal(504);
    expect(Number(res.headers.get('retry-after'))).to.be.at.least(1);
    expect(ms).to.be.below(400 + 1500);
  });

  it('answers 504 for an upstream that never answers, and the reader is not held', async () => {
    upstream.set('hang', { hang: true });
    const { res, ms } = await timed(service, '/entries/hang');
    expect(res.status).to.equal(504);
    expect(ms).to.be.below(400 + 1500);
  });
});

describe('an upstream that closes idle connections', () => {
  let upstream: TestUpstream;
  let service: TestService;

  before(async () => {
    // Long enough that fetch keeps the connection for reuse (it honours the
    // server's hint, less two seconds); one worker, so the next refresh could reuse it.
    upstream = await startTestUpstream({ keepAliveMs: 4000 });
    service = await startTestService(upstream.url, { env: { UPDATER_MAX_WORKERS: '1' } });
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
  });

  it('is asked again on new connections, not on the ones it closed', async () => {
    const first = Array.from({ length: 8 }, (_, i) => `k${i}`);
    const later = Array.from({ length: 8 }, (_, i) => `l${i}`);
    for (const id of [...first, ...later]) upstream.set(id, { record: record(id) });
    // Eight refreshes at once leave eight kept-alive connections on the worker.
    const warm = await Promise.all(first.map((id) => service.get(`/entries/${id}`)));
    expect(warm.map((r) => r.status)).to.deep.equal(first.map(() => 200));
    // The upstream closes them while the worker idles.
    await waitFor(() => upstream.openConnections() === 0, 'the idle connections to be closed', 6000);
    const answers = await Promise.all(later.map((id) => service.get(`/entries/${id}`)));
    expect(answers.map((r) => r.status)).to.deep.equal(later.map(() => 200));
    expect(answers.map((r) => r.headers.get('cache-status'))).to.deep.equal(later.map(() => 'freshen; fwd=miss; stored'));
  });

  it('accepts JSON that starts with a byte-order mark', async () => {
    upstream.set('bom', { status: 200, body: `\uFEFF${JSON.stringify(record('bom'))}` });
    const res = await service.get('/entries/bom');
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { data: { id: string } }).data.id).to.equal('bom');
  });
});

describe('a refresh that passes UPDATER_TASK_TIMEOUT_MS', () => {
  let upstream: TestUpstream;
  let service: TestService;
  const held: Array<Promise<unknown>> = [];

  before(async () => {
    upstream = await startTestUpstream();
    // One worker slot, so a second refresh waits in the queue behind the first.
    service = await startTestService(upstream.url, {
      env: {
        UPDATER_MIN_WORKERS: '1',
        UPDATER_MAX_WORKERS: '1',
        UPDATER_TASKS_PER_WORKER: '1',
        UPSTREAM_TIMEOUT_MS: '1000',
        UPDATER_TASK_TIMEOUT_MS: '1200',
      },
    });
  });
  after(async () => {
    upstream?.releaseHeld();
    await Promise.allSettled(held);
    await service?.stop();
    await upstream?.close();
  });

  it('is given up after its queue wait and run time: the reader gets 504 in time, and a worker that is not hung is kept', async () => {
    // The worker is up before the clock matters (on a busy machine its first
    // refresh may itself pass the short task timeout: ask until it is stored).
    upstream.set('warm', { record: record('warm') });
    await waitFor(async () => (await service.get('/entries/warm')).status === 200, 'a warm worker', 15_000);
    const { completed, abandoned, killed } = service.pool.stats();
    upstream.set('first', { hang: true });
    upstream.set('queued', { hang: true });
    held.push(service.get('/entries/first'));
    await waitFor(() => upstream.count('first') === 1, 'the first refresh to reach the upstream');
    const { res, ms } = await timed(service, '/entries/queued');
    expect(res.status).to.equal(504);
    expect(res.headers.get('retry-after')).to.match(/^\d+$/);
    expect(ms).to.be.below(1200 + 1500);
    expect(service.pool.stats().abandoned).to.equal(abandoned + 1);
    // The queued refresh ran for less than the task timeout: its worker was not killed.
    await waitFor(() => upstream.count('queued') === 1, 'the queued refresh to run');
    await waitFor(() => service.pool.stats().completed === completed + 2, 'both refreshes to end at the upstream timeout', 5000);
    expect(service.pool.stats().killed).to.equal(killed);
  });
});

describe('an unreachable upstream', () => {
  let service: TestService;
  before(async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    service = await startTestService(`http://127.0.0.1:${port}/items/{id}`);
  });
  after(() => service?.stop());

  it('answers 503 with Retry-After', async () => {
    const { res, text } = await timed(service, '/entries/anything');
    expect(res.status).to.equal(503);
    expect(Number(res.headers.get('retry-after'))).to.be.at.least(1);
    expectNoInternals(text);
  });
});

describe('upstream requests stay on the template’s host', () => {
  let upstream: TestUpstream;
  let service: TestService;
  let trap: Server;
  let trapRequests = 0;
  let trapOrigin = '';

  before(async () => {
    trap = createServer((_req, res) => {
      trapRequests++;
      res.end('{}');
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    trapOrigin = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url);
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
    trap.closeAllConnections();
    await new Promise((resolve) => trap.close(resolve));
  });

  it('does not follow a redirect to another host', async () => {
    upstream.set('moved', { status: 302, headers: { location: `${trapOrigin}/items/moved` } });
    const res = await service.get('/entries/moved');
    expect(res.status).to.equal(502);
    expect(trapRequests).to.equal(0);
  });

  it('refuses ids that could change the request target, before any request', async () => {
    for (const id of ['...', 'a%2Fb', '%40evil', 'a.b', 'x'.repeat(129), '%00']) {
      const res = await service.get(`/entries/${id}`);
      expect(res.status, id).to.equal(400);
    }
    const res = await service.get(`/entries?ids=ok1,${encodeURIComponent('//evil.example/x')}`);
    expect(res.status).to.equal(400);
  });

  it('does not fetch related ids that are not ids', async () => {
    upstream.set('r0', {
      record: record('r0', { related: ['r1', `${trapOrigin}/items/r1`, '../r1', '@127.0.0.1'] }),
    });
    upstream.set('r1', { record: record('r1') });
    const res = await service.get('/entries/r0/related');
    expect(res.status).to.equal(502); // r0 fails the schema: related must be ids
    expect(trapRequests).to.equal(0);
  });

  it('sent every upstream request to the template’s path, id URL-encoded', () => {
    expect(upstream.paths.length).to.be.greaterThan(0);
    for (const path of upstream.paths) expect(path).to.match(/^\/items\/[A-Za-z0-9_-]{1,128}$/);
    expect(trapRequests).to.equal(0);
  });
});

describe('an upstream URL with credentials in it', () => {
  let upstream: TestUpstream;
  let service: TestService;

  before(async () => {
    upstream = await startTestUpstream();
    // fetch() refuses such a URL: the credentials must travel as a header.
    const url = upstream.url.replace('http://', 'http://reader:p%40ss%3Aword@');
    service = await startTestService(url);
  });
  after(async () => {
    await service?.stop();
    await upstream?.close();
  });

  it('sends them as Basic authorization', async () => {
    upstream.set('cred1', { record: record('cred1') });
    const res = await service.get('/entries/cred1');
    expect(res.status).to.equal(200);
    const expected = `Basic ${Buffer.from('reader:p@ss:word').toString('base64')}`;
    expect(upstream.headersOf('cred1')?.authorization).to.equal(expected);
  });
});
