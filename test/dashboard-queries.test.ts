// The Grafana dashboard freshen ships (deploy/grafana/freshen.json), proven on
// a real Prometheus (Debian's): it scrapes a running freshen every second
// while readers hit, miss, get a 503 from a failing upstream and make a
// notice the SMTP server refuses (a dead letter); then every panel's query,
// with Grafana's variables filled in, is evaluated through Prometheus's HTTP
// API: each returns data, none errors.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './support/free-port.js';
import { startTestService, type TestService } from './support/service.js';
import { startTestSmtp, type TestSmtp } from './support/smtp.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';
import { waitFor } from './support/wait.js';

const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/freshen.json', import.meta.url));

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

/** A panel's query as Grafana sends it: every node, and a rate window of a minute. */
function filled(expr: string): string {
  return expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m');
}

describe('the shipped Grafana dashboard, on a real Prometheus', function () {
  this.timeout(90_000);
  let upstream: TestUpstream;
  let smtp: TestSmtp;
  let service: TestService;
  let prometheus: ChildProcess | undefined;
  let promUrl = '';
  let dir = '';
  const panels: Panel[] = [];

  before(async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Panel[] };
    panels.push(...dashboard.panels.filter((p) => p.type !== 'row'));
    upstream = await startTestUpstream();
    smtp = await startTestSmtp();
    smtp.fault = 'reject';
    service = await startTestService(upstream.url, { env: { SMTP_URL: smtp.url, CONTENT_TEAM: 'team@example.org' } });
    dir = await mkdtemp(join(tmpdir(), 'freshen-prometheus-'));
    const target = new URL(service.url).host;
    await writeFile(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: freshen\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: 'ignore',
    });
    await waitFor(async () => (await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok, 'Prometheus ready', 20_000);
  });
  after(async () => {
    prometheus?.kill('SIGKILL');
    await service?.stop();
    await smtp?.close();
    await upstream?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
  }

  it('has panels with queries of their own: Grafana variables, no padding', () => {
    expect(panels.length).to.be.at.least(15);
    for (const p of panels) {
      expect(p.targets?.length, p.title).to.be.at.least(1);
      for (const t of p.targets ?? []) {
        expect(t.expr, p.title).not.to.include('vector(0)');
        if (t.expr.includes('rate(')) expect(t.expr, p.title).to.include('[$__rate_interval]');
      }
    }
  });

  it('answers every panel with data while freshen serves hits, misses, a 503 and a dead letter', async () => {
    upstream.set('ok1', { record: record('ok1') });
    upstream.set('bad1', { record: { id: 'bad1' } });
    upstream.set('down1', { status: 503 });
    // Steady reads for a few scrapes, the rare events among them.
    const until = performance.now() + 6000;
    const statuses = new Set<number>();
    for (let i = 0; performance.now() < until; i++) {
      const id = ['ok1', 'ok1', 'bad1', 'down1', `new${i}`][i % 5] as string;
      if (id.startsWith('new')) upstream.set(id, { record: record(id) });
      const res = await service.get(`/entries/${id}`);
      await res.arrayBuffer();
      statuses.add(res.status);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect([...statuses].toSorted()).to.include.members([200, 502, 503]);
    await waitFor(async () => Number((await query('max(freshen_outbox_messages{state="dead"})')).data?.result.length) > 0, 'a dead letter scraped', 15_000);
    await waitFor(async () => {
      const r = (await query('count_over_time(up{job="freshen"}[1m])')).data?.result as Array<{ value: [number, string] }> | undefined;
      return Number(r?.[0]?.value[1]) >= 5;
    }, 'five scrapes', 15_000);

    const empty: string[] = [];
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        const answer = await query(filled(t.expr));
        expect(answer.status, `${p.title}: ${answer.error ?? ''}`).to.equal('success');
        if ((answer.data?.result.length ?? 0) === 0) empty.push(`${p.title}: ${t.expr}`);
      }
    }
    expect(empty, 'panels without data').to.deep.equal([]);
  });
});
