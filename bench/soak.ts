// `npm run soak`: a bounded sustained load (2 minutes; --quick 30 s;
// --seconds=N or SOAK_SECONDS) on a real freshen process — SQLite, or the
// Postgres named by DATABASE_URL — with a real upstream and a real SMTP server
// on loopback. Every kind of read at once on 64 connections, while entries turn
// stale, invalid ones are mailed about and an operator refreshes now and then.
// A check, not only a report: exits 1 when a request failed, memory grew past
// its bound or mail went missing. Writes bench/results/soak-latest.json.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startTestSmtp } from '../test/support/smtp.js';
import { prefill, settle, startFreshen, TOKEN } from './http-sections.js';
import { median, percentile, ROOT, round, startNode } from './lib.js';
import { HOT_IDS, KINDS, STALE_IDS, TTL_SECONDS, type KindResult, type LoadProgress } from './soak-mix.js';
import { judge, report, type Sample, type SoakRun } from './soak-report.js';

const MiB = 2 ** 20;
/**
 * The memory tier's cap: ~700 entries of ~1.5 KB, full within seconds of the
 * start, so memory growth past them is not the cache filling (4 MiB was still
 * filling at the end of two minutes).
 */
const MEMORY_TIER_BYTES = 1 * MiB;

function runSeconds(): number {
  const arg = process.argv.find((a) => a.startsWith('--seconds='))?.slice('--seconds='.length);
  const raw = arg ?? process.env.SOAK_SECONDS ?? (process.argv.includes('--quick') ? '30' : '120');
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 10 || seconds > 86_400) {
    throw new Error(`--seconds / SOAK_SECONDS must be a whole number of seconds from 10 to 86400 (got ${JSON.stringify(raw)})`);
  }
  return seconds;
}

/** Prometheus text → `name{labels}` → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

const sumOf = (m: Map<string, number>, prefix: string) => [...m].reduce((s, [k, v]) => s + (k.startsWith(prefix) ? v : 0), 0);

function refreshCounts(m: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of m) {
    const outcome = /^freshen_refreshes_total\{outcome="([^"]+)"\}$/.exec(k)?.[1];
    if (outcome) out[outcome] = v;
  }
  out.skipped = m.get('freshen_cache_outcomes_total{outcome="refresh_skipped"}') ?? 0;
  return out;
}

interface OutboxCounts {
  pending: number;
  sending: number;
  sent: number;
  dead: number;
  /** Mailer processes this server has started so far. */
  spawned: number;
}

async function outbox(url: string): Promise<OutboxCounts> {
  const res = await fetch(`${url}/admin/outbox`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`/admin/outbox answered ${res.status}`);
  const view = (await res.json()) as { counts: Omit<OutboxCounts, 'spawned'>; mailers: { spawned: number } };
  return { ...view.counts, spawned: view.mailers.spawned };
}

/** The server's warnings counted by message (an invalid entry's is one each) with the first of each, its errors quoted. */
function logSummary(output: string): SoakRun['serverLog'] {
  const warnings: Record<string, number> = {};
  const firstWarnings: string[] = [];
  const errors: string[] = [];
  for (const line of output.split('\n')) {
    const level = /"level":(\d+)/.exec(line)?.[1];
    if (level === '40') {
      const code = /"code":"([^"]*)"/.exec(line)?.[1];
      const msg = `${/"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 80)}${code ? ` (${code})` : ''}`;
      if (warnings[msg] === undefined) firstWarnings.push(line.slice(0, 400));
      warnings[msg] = (warnings[msg] ?? 0) + 1;
    } else if (level === '50' || level === '60' || (level === undefined && line.trim() !== '' && !line.startsWith('READY'))) {
      errors.push(line.slice(0, 400));
    }
  }
  return { warnings, firstWarnings, errors: errors.length, excerpt: errors.slice(0, 5) };
}

const log = (line: string) => process.stderr.write(`soak: ${line}\n`);

async function main(): Promise<void> {
  const seconds = runSeconds();
  const postgres = process.env.DATABASE_URL?.startsWith('postgres') ? process.env.DATABASE_URL : undefined;
  const loadBefore = loadavg();
  const smtp = await startTestSmtp();
  const stops: Array<() => Promise<void>> = [() => smtp.close()];
  try {
    const upstream = await startNode('dist/bench/soak-upstream.js', [], {}, /^READY (\S+)$/m);
    stops.unshift(() => upstream.stop());
    const freshen = await startFreshen(upstream.ready, 'thread', {
      ...(postgres ? { DATABASE_URL: postgres } : {}),
      ENTRY_TTL_SECONDS: String(TTL_SECONDS),
      MEMORY_TIER_MAX_BYTES: String(MEMORY_TIER_BYTES),
      SMTP_URL: smtp.url,
      CONTENT_TEAM: 'content@example.test',
      // The default: the page index is rewritten as pages change, as in production.
      PUBLISH_INDEX_SECONDS: '5',
    });
    stops.unshift(() => freshen.stop());
    const url = freshen.ready;
    log(`${seconds} s on ${postgres ? 'Postgres' : 'SQLite'}, freshen at ${url}; storing ${HOT_IDS} hot and ${STALE_IDS} seldom-read entries first`);
    await prefill(url, [
      ...Array.from({ length: HOT_IDS }, (_, i) => `hot-${i}`),
      ...Array.from({ length: STALE_IDS }, (_, i) => `stale-${i}`),
    ]);
    const outboxBefore = await outbox(url);
    const metricsBefore = await scrape(url);
    const refreshesBefore = refreshCounts(metricsBefore);
    const refreshedBefore = sumOf(metricsBefore, 'freshen_refreshes_total{');

    const child = spawn(process.execPath, ['dist/bench/soak-load.js', url, String(seconds)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    stops.unshift(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let progress: LoadProgress | undefined;
    let loadResult: Record<string, KindResult> | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('PROGRESS ')) progress = JSON.parse(line.slice(9)) as LoadProgress;
      else if (line.startsWith('RESULT ')) loadResult = JSON.parse(line.slice(7)) as Record<string, KindResult>;
    });
    // 'close': the process has exited and its output is all read.
    const exited = once(child, 'close');
    const t0 = performance.now();
    const elapsed = () => (performance.now() - t0) / 1000;

    // Samples every 2 s; an operator's refresh every 2 s; a progress line every 10 s.
    const samples: Sample[] = [];
    const operator: Array<{ status: number; ms: number }> = [];
    let scrapeFailures = 0;
    const state = { running: true };
    void exited.then(() => (state.running = false));
    let nextProgress = 10;
    for (;;) {
      await Promise.race([new Promise((r) => setTimeout(r, 2000)), exited]);
      if (!state.running) break;
      const started = performance.now();
      const res = await fetch(`${url}/entries/hot-${Math.floor(Math.random() * HOT_IDS)}/refresh`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: AbortSignal.timeout(10_000),
      }).catch(() => undefined);
      await res?.arrayBuffer().catch(() => undefined);
      operator.push({ status: res?.status ?? 0, ms: performance.now() - started });
      try {
        const m = await scrape(url);
        samples.push({
          t: round(elapsed(), 1),
          rss: m.get('process_resident_memory_bytes') ?? NaN,
          heap: m.get('nodejs_heap_size_used_bytes') ?? NaN,
          loopP99: (m.get('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000,
          queued: m.get('freshen_updater_queue_depth') ?? 0,
          memoryEntries: m.get('freshen_memory_tier_entries') ?? 0,
          refreshes: sumOf(m, 'freshen_refreshes_total{'),
          sent: m.get('freshen_outbox_messages{state="sent"}') ?? 0,
        });
      } catch {
        scrapeFailures++;
      }
      if (elapsed() >= nextProgress && samples.length > 0) {
        nextProgress += 10;
        const s = samples.at(-1) as Sample;
        const kinds = Object.entries(progress?.kinds ?? {});
        const total = kinds.reduce((a, [, k]) => a + k.requests, 0);
        const failed = kinds.reduce((a, [, k]) => a + k.failed, 0);
        log(
          `${Math.round(elapsed())}/${seconds} s · ${total} answered (${kinds.map(([n, k]) => `${n} ${k.requests}`).join(', ')}) · ${failed} failed · ` +
            `RSS ${round(s.rss / MiB, 1)} MiB · heap ${round(s.heap / MiB, 1)} MiB · loop p99 ${round(s.loopP99, 1)} ms · ` +
            `refreshes ${s.refreshes - refreshedBefore} · queue ${s.queued} · mail sent ${s.sent - outboxBefore.sent}`,
        );
      }
    }
    await exited;
    if (!loadResult) throw new Error(`the load process exited (${child.exitCode ?? child.signalCode}) without a result`);
    const loadSeconds = elapsed();

    // The tail: refreshes under way finish, the outbox drains (bounded).
    log('load done; waiting for the pool and the outbox to drain');
    await settle(url);
    const drainDeadline = performance.now() + 60_000;
    let outboxAfter = await outbox(url);
    while (outboxAfter.pending + outboxAfter.sending > 0 && performance.now() < drainDeadline) {
      await new Promise((r) => setTimeout(r, 500));
      outboxAfter = await outbox(url);
    }
    const refreshesAfter = refreshCounts(await scrape(url));
    const serverLog = freshen.output();

    const run: SoakRun = {
      date: new Date().toISOString(),
      machine: {
        cpus: availableParallelism(),
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown CPU',
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        node: process.versions.node,
        loadavgBefore: loadBefore.map((x) => round(x)),
        loadavgAfter: loadavg().map((x) => round(x)),
      },
      database: postgres ? 'postgres' : 'sqlite',
      seconds,
      loadSeconds: round(loadSeconds, 1),
      settings: { ENTRY_TTL_SECONDS: TTL_SECONDS, MEMORY_TIER_MAX_BYTES: MEMORY_TIER_BYTES, connections: KINDS.reduce((a, k) => a + k.connections, 0) },
      kinds: loadResult,
      operator: {
        requests: operator.length,
        failed: operator.filter((o) => o.status !== 202).length,
        p50: round(median(operator.map((o) => o.ms))),
        p99: round(percentile(operator.map((o) => o.ms), 99)),
      },
      samples,
      scrapeFailures,
      refreshes: Object.fromEntries(Object.entries(refreshesAfter).map(([k, v]) => [k, v - (refreshesBefore[k] ?? 0)])),
      mail: {
        sent: outboxAfter.sent - outboxBefore.sent,
        dead: outboxAfter.dead - outboxBefore.dead,
        leftUnsent: outboxAfter.pending + outboxAfter.sending,
        mailers: outboxAfter.spawned - outboxBefore.spawned,
        received: smtp.received.length,
        receivedEntries: new Set(smtp.received.map((r) => /Entry (\S+)/.exec(r.mail.subject ?? '')?.[1])).size,
      },
      serverLog: logSummary(serverLog),
    };
    const verdict = judge(run);
    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'soak-latest.json'), `${JSON.stringify({ ...run, verdict }, null, 2)}\n`);
    process.stdout.write(`\n${report(run, verdict)}\nwrote bench/results/soak-latest.json\n`);
    process.exitCode = verdict.ok ? 0 : 1;
  } finally {
    for (const stop of stops) await stop();
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
