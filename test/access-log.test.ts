// One JSON line per request in LOG_FILE, written by pino's worker thread, and
// a request id on every answer: the client's X-Request-Id, or a new one.
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';
import { waitFor } from './support/wait.js';

interface Line {
  time: string;
  level: number;
  method: string;
  path: string;
  status: number;
  durationMs: number;
  cache?: string;
  requestId: string;
}

describe('the access log', () => {
  let upstream: TestUpstream;
  let service: TestService;

  useService({}, (u, s) => {
    upstream = u;
    service = s;
  });

  const lines = async (): Promise<Line[]> => {
    const text = await readFile(service.config.logFile, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line);
  };

  it('writes one parsable line per request with time, method, path, status, duration, cache outcome and request id', async () => {
    upstream.set('a1', { record: record('a1') });
    const answers = [
      await service.get('/entries/a1', { 'X-Request-Id': 'client-id-123' }),
      await service.get('/entries/a1'),
      await service.get('/entries/not%20an%20id'),
      await service.get('/healthz', { 'X-Request-Id': 'bad id with spaces' }),
      await fetch(`${service.url}/entries/a1`, { method: 'HEAD' }),
    ];
    expect(answers[0]?.headers.get('x-request-id')).to.equal('client-id-123');
    const generated = answers.slice(1).map((r) => r.headers.get('x-request-id'));
    for (const id of generated) expect(id).to.match(/^[A-Za-z0-9_-]{12}-[0-9a-z]+$/);
    expect(new Set(generated).size).to.equal(generated.length);

    const logged = await waitFor(async () => {
      const l = await lines();
      return l.length >= 5 ? l : undefined;
    }, 'five access log lines');
    expect(logged).to.have.length(5);
    expect(logged.map((l) => [l.method, l.path, l.status, l.cache])).to.deep.equal([
      ['GET', '/entries/a1', 200, 'miss'],
      ['GET', '/entries/a1', 200, 'hit'],
      ['GET', '/entries/not%20an%20id', 400, undefined],
      ['GET', '/healthz', 200, undefined],
      ['HEAD', '/entries/a1', 200, 'hit'],
    ]);
    expect(logged.map((l) => l.requestId)).to.deep.equal(['client-id-123', ...generated]);
    for (const l of logged) {
      expect(Date.parse(l.time)).to.be.closeTo(Date.now(), 60_000);
      expect(l.durationMs).to.be.a('number').and.to.be.at.least(0);
    }
  });

  it('puts the request id in problem answers, for the operator to find the line', async () => {
    const res = await service.get('/entries/a%20b', { 'X-Request-Id': 'find-me-1' });
    expect(((await res.json()) as { requestId: string }).requestId).to.equal('find-me-1');
  });
});
