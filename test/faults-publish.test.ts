// A PUBLISH_DIR that cannot be written: the refresh is still stored and
// answered, the failed write is logged, and a page already published stays as
// it was. Tests run as root, where chmod stops no write: the directory's
// parent is replaced by a regular file once freshen runs (at start such a
// PUBLISH_DIR is refused), or the pages directory is bind-mounted read-only
// over itself (where mount is allowed).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useFreshenProcesses } from './support/freshen-process.js';
import { record } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'an-operator-token-of-some-length';

/** Did the log say that `id`'s page was not published? */
const pageFailureLogged = (output: string, id: string) =>
  output.split('\n').some((line) => line.includes('"msg":"page not published; it is tried again later"') && line.includes(`"id":"${id}"`));

async function titleAt(url: string, id: string): Promise<string | undefined> {
  const res = await fetch(`${url}/entries/${id}`);
  if (res.status !== 200) return undefined;
  return ((await res.json()) as { data: { title: string } }).data.title;
}

describe('an unwritable PUBLISH_DIR', function () {
  this.timeout(60_000);
  const fleet = useFreshenProcesses('publish');

  it('stores and answers the refresh, and logs the failed page write', async () => {
    const parent = join(fleet.files(), 'gone');
    fleet.upstream().set('pw1', { record: record('pw1') });
    const node = fleet.start({ PUBLISH_DIR: join(parent, 'pages') });
    const url = await node.listening();
    rmSync(parent, { recursive: true, force: true });
    writeFileSync(parent, 'not a directory any more\n');

    const first = await fetch(`${url}/entries/pw1`);
    expect(first.status).to.equal(200);
    expect(first.headers.get('cache-status')).to.equal('freshen; fwd=miss; stored');
    await waitFor(() => pageFailureLogged(node.output(), 'pw1'), 'the failed page write to be logged', 10_000);
    const again = await fetch(`${url}/entries/pw1`);
    expect(again.headers.get('cache-status')).to.match(/^freshen; hit/);
    expect((await fetch(`${url}/pages/pw1.html`)).status).to.equal(404);
    expect(node.child.exitCode).to.equal(null);
    expect(node.output()).not.to.match(/"level":(50|60)/);
  });

  it('keeps the published page when its directory turns read-only', async function () {
    const pages = join(fleet.files(), 'ro-pages');
    mkdirSync(pages, { recursive: true });
    const upstream = fleet.upstream();
    upstream.set('pw2', { record: record('pw2', { title: 'first' }) });
    const node = fleet.start({ PUBLISH_DIR: pages, ADMIN_TOKEN: TOKEN });
    const url = await node.listening();
    expect(await titleAt(url, 'pw2')).to.equal('first');
    const page = join(pages, 'pw2.html');
    await waitFor(() => existsSync(page), 'the first page');
    const published = readFileSync(page, 'utf8');
    expect(published).to.include('first');

    // A read-only bind mount of the directory over itself.
    if (spawnSync('mount', ['--bind', pages, pages]).status !== 0) this.skip();
    try {
      if (spawnSync('mount', ['-o', 'remount,ro,bind', pages]).status !== 0) this.skip();
      upstream.set('pw2', { record: record('pw2', { title: 'second' }) });
      const asked = await fetch(`${url}/entries/pw2/refresh`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(asked.status).to.equal(202);
      await waitFor(async () => (await titleAt(url, 'pw2')) === 'second', 'the refresh to be stored and answered', 10_000);
      await waitFor(() => pageFailureLogged(node.output(), 'pw2'), 'the failed page write to be logged', 10_000);
      expect(readFileSync(page, 'utf8')).to.equal(published);
      const served = await fetch(`${url}/pages/pw2.html`);
      expect(served.status).to.equal(200);
      expect(await served.text()).to.include('first');
      expect(node.child.exitCode).to.equal(null);
    } finally {
      spawnSync('umount', [pages]);
    }
  });
});
