// Any valid JSON string from the upstream is stored and answered as it was
// sent, on both engines: Postgres refuses a NUL character in a text column
// (SQLite keeps it), which once wedged such an entry — every miss a 500 and
// a new fetch each time the lease expired.
import { expect } from 'chai';
import { record, type TestUpstream } from './support/upstream.js';
import { useService, type TestService } from './support/service.js';

describe('upstream text with characters a database may refuse', () => {
  let upstream: TestUpstream;
  let service: TestService;
  useService({}, (u, s) => {
    upstream = u;
    service = s;
  });

  it('stores and answers a record whose title and body hold NUL and other control characters', async () => {
    const title = 'nul\u0000 tab\t bell\u0007 emoji 😀';
    upstream.set('nul1', { record: record('nul1', { title, body: 'a\u0000b' }) });
    const first = await service.get('/entries/nul1');
    expect(first.status).to.equal(200);
    const body = (await first.json()) as { data: { title: string; body: string } };
    expect(body.data.title).to.equal(title);
    expect(body.data.body).to.equal('a\u0000b');
    // Stored, not refetched: the next read is a hit from the copy.
    const again = await service.get('/entries/nul1');
    expect(again.headers.get('cache-status')).to.match(/^freshen; hit/);
    expect(upstream.count('nul1')).to.equal(1);
  });

  it('stores the failure of a record whose invalid data names NUL', async () => {
    upstream.set('nul2', { record: record('nul2', { title: 'x\u0000', tags: 'not\u0000an array' }) });
    const first = await service.get('/entries/nul2');
    expect(first.status).to.equal(502);
    // The failure was recorded: the next read answers from it, without asking the upstream.
    const again = await service.get('/entries/nul2');
    expect(again.status).to.equal(502);
    expect(again.headers.get('cache-status')).to.include('detail=backoff');
    expect(upstream.count('nul2')).to.equal(1);
  });
});
