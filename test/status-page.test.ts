// The operator's status page at /admin, opened in a real browser (Debian's
// chromium, driven by playwright-core): behind the admin token, and showing the
// runtime, the pool, the reads, the failing entries and the outbox.
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startTestUpstream, record, type TestUpstream } from './support/upstream.js';
import { startTestService, type TestService } from './support/service.js';
import { waitFor } from './support/wait.js';

const TOKEN = 'a-long-enough-admin-token';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('the status page', function () {
  this.timeout(60_000);
  let upstream: TestUpstream;
  let service: TestService;
  let browser: Browser;

  before(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    upstream = await startTestUpstream();
    service = await startTestService(upstream.url, { env: { ADMIN_TOKEN: TOKEN } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    // Some traffic to show: a hit, a miss, and an entry whose data is invalid.
    upstream.set('ok1', { record: record('ok1') });
    upstream.set('bad1', { record: record('bad1', { title: 7 }) });
    await service.get('/entries/ok1');
    await service.get('/entries/ok1');
    await service.get('/entries/bad1');
  });
  after(async () => {
    await browser?.close();
    await service?.stop();
    await upstream?.close();
  });

  /** How many samples the plots have (the first plot's). */
  const samples = async () => Number(/data-points="(\d+)"/.exec(await (await service.get('/admin', { Authorization: `Bearer ${TOKEN}`, Accept: 'text/html' })).text())?.[1] ?? 0);

  it('asks a browser without the token to authenticate', async () => {
    const context = await browser.newContext();
    // The browser's own request (a page load would stop at the login prompt).
    const res = await context.request.get(`${service.url}/admin`);
    expect(res.status()).to.equal(401);
    expect(res.headers()['www-authenticate']).to.match(/^Basic realm="freshen"/);
    const wrong = await context.request.get(`${service.url}/admin`, {
      headers: { Authorization: `Basic ${Buffer.from('operator:guess').toString('base64')}` },
    });
    expect(wrong.status()).to.equal(403);
    await context.close();
  });

  it('shows the runtime, pool, reads, failing entries and outbox, and is screenshot for a look', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: 'operator', password: TOKEN },
      viewport: { width: 1200, height: 1400 },
    });
    const page = await context.newPage();
    const res = await page.goto(`${service.url}/admin`);
    expect(res?.status()).to.equal(200);
    expect(await page.title()).to.equal('Status · freshen');
    const text = await page.locator('main').innerText();
    const runtime = service.config.updater.runtime === 'process' ? 'child processes' : 'worker threads';
    expect(text).to.include(`Updater pool (${runtime})`);
    expect(text).to.match(/HIT RATE\s+33%/i);
    expect(text).to.match(/INVALID DATA\s+1/i);
    expect(text).to.include('bad1');
    expect(text).to.include('/title must be string');
    expect(text).to.include('UPDATER_RUNTIME');
    expect(text).not.to.include(TOKEN);
    await page.screenshot({ path: join(service.files, 'status.png'), fullPage: true });
    await context.close();
  });

  it('plots the last 5 minutes and the last hour, each plot with data, readable at 1280 px and on a phone', async () => {
    // A few seconds of samples (one a second), with reads among them.
    for (const id of ['plot1', 'plot2', 'plot3']) {
      upstream.set(id, { record: record(id) });
      await service.get(`/entries/${id}`);
    }
    await waitFor(async () => (await samples()) >= 3, 'three samples', 10_000);
    // STATUS_SCREENSHOT=docs/status.png keeps the wide one (the README's) and docs/status-phone.png.
    for (const [width, height, name, kept] of [
      [1280, 900, 'status-plots.png', process.env.STATUS_SCREENSHOT],
      [390, 844, 'status-phone.png', process.env.STATUS_SCREENSHOT?.replace(/\.png$/, '-phone.png')],
    ] as const) {
      const context = await browser.newContext({ httpCredentials: { username: 'operator', password: TOKEN }, viewport: { width, height } });
      const page = await context.newPage();
      await page.goto(`${service.url}/admin`);
      const plotted = await page.locator('.plot').evaluateAll((plots) =>
        plots.map((p) => ({
          title: p.querySelector('h3')?.textContent ?? '',
          points: Number(p.getAttribute('data-points')),
          lines: [...p.querySelectorAll('polyline')].map((l) => (l.getAttribute('points') ?? '').trim().split(' ').length),
          width: p.getBoundingClientRect().width,
        })),
      );
      // Nine signals, over the last 5 minutes and the last hour.
      expect(plotted).to.have.length(18);
      for (const p of plotted) {
        expect(p.points, p.title).to.be.at.least(1);
        // One sample is drawn as a level line: two points.
        for (const n of p.lines) expect(n, p.title).to.equal(Math.max(2, p.points));
        expect(p.width, p.title).to.be.within(200, width);
      }
      expect(plotted.slice(0, 9).every((p) => p.points >= 3)).to.equal(true);
      expect(plotted.map((p) => p.title.split(' (')[0])).to.include.members(['Reads', 'Upstream refreshes', 'Upstream latency', 'Updater queue', 'Event-loop delay', 'Upstream breaker', 'Outbox unsent']);
      // Nothing wider than the window: no sideways scrolling on a phone.
      expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).to.be.at.most(width);
      await page.screenshot({ path: join(service.files, name), fullPage: true });
      if (kept) await page.screenshot({ path: kept, fullPage: true });
      await context.close();
    }
  });

  it('answers JSON to a program, curl\'s Accept: */* included', async () => {
    const curl = await service.get('/admin', { Authorization: `Bearer ${TOKEN}`, Accept: '*/*' });
    expect(curl.headers.get('content-type')).to.match(/^application\/json/);
    const res = await service.get('/admin', { Authorization: `Bearer ${TOKEN}`, Accept: 'application/json' });
    expect(res.status).to.equal(200);
    const status = (await res.json()) as { pool: { runtime: string }; cache: { hit: number }; startedAt: string; uptimeSeconds: number };
    expect(status.pool.runtime).to.equal(service.config.updater.runtime);
    expect(status.cache.hit).to.equal(1);
  });

  it('says when this process started, as a time of day, consistent with its uptime', async () => {
    const res = await service.get('/admin', { Authorization: `Bearer ${TOKEN}`, Accept: 'application/json' });
    const status = (await res.json()) as { startedAt: string; uptimeSeconds: number };
    const started = Date.parse(status.startedAt);
    expect(Date.now() - started).to.be.within(status.uptimeSeconds * 1000, (status.uptimeSeconds + 60) * 1000);
  });
});
