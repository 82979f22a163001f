// A node whose host name is as long as cloud host names are (64 characters):
// its lease and claim owners (`host:pid:…`) must fit the owner columns — which
// Postgres enforces and SQLite never did. freshen runs as a real process in a
// UTS namespace of its own (`unshare --uts`), so only it sees the long name.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { useFreshenProcesses } from './support/freshen-process.js';
import { startTestSmtp, type TestSmtp } from './support/smtp.js';
import { record } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const LONG_NAME = 'instance-20261202-abcdefgh.europe-west4-a.c.project-123.internal';

describe('a node with a 64-character host name', () => {
  const fleet = useFreshenProcesses('long-host');
  let smtp: TestSmtp;

  before(async function () {
    expect(LONG_NAME).to.have.length(64);
    // The test needs its own UTS namespace: root and util-linux's unshare, as CI has.
    const probe = spawnSync('unshare', ['--uts', 'hostname', LONG_NAME]);
    expect(probe.status, `unshare --uts: ${probe.stderr?.toString()}`).to.equal(0);
    smtp = await startTestSmtp();
  });
  after(async () => {
    await smtp?.close();
  });

  it('answers a miss from the upstream and sends its notice, on both engines', async () => {
    const upstream = fleet.upstream();
    upstream.set('lh1', { record: record('lh1', { title: 'Long host' }) });
    upstream.set('lh2', { record: record('lh2', { tags: 'not an array' }) });
    const node = fleet.start(
      { SMTP_URL: smtp.url, CONTENT_TEAM: 'content@example.test', MAIL_SWEEP_SECONDS: '0.2' },
      ['unshare', '--uts', 'sh', '-c', `hostname ${LONG_NAME} && exec "$@"`, 'sh'],
    );
    const url = await node.listening();

    const miss = await fetch(`${url}/entries/lh1`);
    expect(miss.status).to.equal(200);
    expect(miss.headers.get('cache-status')).to.equal('freshen; fwd=miss; stored');
    expect(((await miss.json()) as { data: { title: string } }).data.title).to.equal('Long host');

    // Its notice goes out through a mailer's claim on the outbox.
    const invalid = await fetch(`${url}/entries/lh2`);
    expect(invalid.status).to.equal(502);
    await waitFor(() => smtp.received.length >= 1, 'the notice', 15_000);
    expect(smtp.received[0]?.mail.subject).to.include('lh2');
    expect(node.output()).not.to.match(/value too long|request failed/);
  });
});
