// The soak's verdict and its table: what failed by the contract's rules, how
// the server's memory moved from the first minute to the last, and the rest
// of the run in figures.
import { median, round } from './lib.js';
import { failedOf, KINDS, shedOf, type KindResult } from './soak-mix.js';

const MiB = 2 ** 20;
/**
 * Growth allowed from the first window to the last: of RSS's peak, and of the
 * heap's floor (its least sample, what is left after a major collection).
 * Medians are no measure here (seen in every run): the heap saws between ~30
 * and ~100 MiB as collections come and go, and RSS climbs for the first ~50 s
 * until it holds the heap's peak, then stays there. With the memory tier full
 * within seconds, a leak of ~100 bytes per request or ~5 KB per new id would
 * cross the heap bound in two minutes.
 */
export const BOUNDS = { heapFloorMiB: 16, rssPeakMiB: 64 };
/** A window shorter than this may hold no major collection (they came every ~25–40 s), so its floor is no floor. */
const FLOOR_WINDOW_SECONDS = 45;

export interface Sample {
  /** Seconds since the load began. */
  t: number;
  rss: number;
  heap: number;
  /** Event-loop delay p99 over the scrape interval (prom-client resets it each scrape), ms. */
  loopP99: number;
  queued: number;
  memoryEntries: number;
  refreshes: number;
  sent: number;
}

export interface SoakRun {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; loadavgBefore: number[]; loadavgAfter: number[] };
  database: 'sqlite' | 'postgres';
  seconds: number;
  loadSeconds: number;
  settings: Record<string, number>;
  kinds: Record<string, KindResult>;
  operator: { requests: number; failed: number; p50: number; p99: number };
  samples: Sample[];
  scrapeFailures: number;
  refreshes: Record<string, number>;
  mail: { sent: number; dead: number; leftUnsent: number; mailers: number; received: number; receivedEntries: number };
  serverLog: { warnings: Record<string, number>; firstWarnings: string[]; errors: number; excerpt: string[] };
}

export interface Verdict {
  ok: boolean;
  problems: string[];
  failedRequests: number;
  memory: {
    windowSeconds: number;
    warmUpSeconds: number;
    rssMiB: { first: number; last: number };
    rssPeakMiB: { first: number; last: number; growth: number; bound: number };
    heapMiB: { first: number; last: number };
    heapFloorMiB: { first: number; last: number; growth: number; bound: number; judged: boolean };
    loopP99Ms: { median: number; max: number };
  };
}

const mib = (xs: Sample[], k: 'rss' | 'heap') => round(median(xs.map((s) => s[k])) / MiB, 1);
const floorMib = (xs: Sample[]) => round(Math.min(...xs.map((s) => s.heap)) / MiB, 1);
const peakMib = (xs: Sample[]) => round(Math.max(...xs.map((s) => s.rss)) / MiB, 1);

export function judge(run: SoakRun): Verdict {
  const problems: string[] = [];
  let failedRequests = run.operator.failed;
  for (const kind of KINDS) {
    const r = run.kinds[kind.name];
    if (!r) continue;
    const failed = failedOf(kind, r);
    failedRequests += failed;
    if (failed > 0) problems.push(`${kind.name}: ${failed} failed requests`);
  }
  if (run.operator.failed > 0) problems.push(`operator refresh: ${run.operator.failed} not answered 202`);

  // The first minute and the last (the halves of a shorter run); the first
  // seconds are left out of the first window: start-up, not the soak.
  const windowSeconds = Math.min(60, run.loadSeconds / 2);
  const warmUp = Math.min(10, windowSeconds / 3);
  const first = run.samples.filter((s) => s.t >= warmUp && s.t <= windowSeconds);
  const last = run.samples.filter((s) => s.t >= run.loadSeconds - windowSeconds);
  const rss = { first: mib(first, 'rss'), last: mib(last, 'rss') };
  const peak = { first: peakMib(first), last: peakMib(last), growth: 0, bound: BOUNDS.rssPeakMiB };
  peak.growth = round(peak.last - peak.first, 1);
  const heap = { first: mib(first, 'heap'), last: mib(last, 'heap') };
  const floor = { first: floorMib(first), last: floorMib(last), growth: 0, bound: BOUNDS.heapFloorMiB };
  floor.growth = round(floor.last - floor.first, 1);
  if (!(peak.growth <= peak.bound)) problems.push(`RSS's peak grew ${peak.growth} MiB (bound ${peak.bound} MiB)`);
  const floorJudged = windowSeconds >= FLOOR_WINDOW_SECONDS;
  if (floorJudged && !(floor.growth <= floor.bound)) problems.push(`the heap's floor grew ${floor.growth} MiB (bound ${floor.bound} MiB)`);
  const lags = run.samples.map((s) => s.loopP99).filter((x) => Number.isFinite(x));

  // A soak that sent no mail or refreshed nothing did not soak what it says.
  if (run.mail.received === 0) problems.push('mail: none received');
  if (!((run.refreshes.ok ?? 0) > 0)) problems.push('no refresh stored');
  if (run.mail.dead > 0) problems.push(`mail: ${run.mail.dead} messages dead`);
  if (run.mail.leftUnsent > 0) problems.push(`mail: ${run.mail.leftUnsent} messages still unsent a minute after the load`);
  if (run.mail.received !== run.mail.receivedEntries) {
    problems.push(`mail: ${run.mail.received} notices for ${run.mail.receivedEntries} entries (one per entry and problem expected)`);
  }
  if (run.serverLog.errors > 0) problems.push(`server logged ${run.serverLog.errors} errors`);
  return {
    ok: problems.length === 0,
    problems,
    failedRequests,
    memory: {
      windowSeconds: round(windowSeconds, 1),
      warmUpSeconds: round(warmUp, 1),
      rssMiB: rss,
      rssPeakMiB: peak,
      heapMiB: heap,
      heapFloorMiB: { ...floor, judged: floorJudged },
      loopP99Ms: { median: round(median(lags)), max: round(Math.max(...lags)) },
    },
  };
}

const share = (part: Record<string, number>) => {
  const total = Object.values(part).reduce((a, b) => a + b, 0);
  return Object.entries(part)
    .toSorted((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${round((100 * v) / total, 1)}%`)
    .join(', ');
};

const signed = (x: number) => `${x >= 0 ? '+' : ''}${x}`;

export function report(run: SoakRun, v: Verdict): string {
  const m = run.machine;
  const lines = [
    `Soak ${run.date.slice(0, 16).replace('T', ' ')} UTC: ${run.loadSeconds} s on ${run.database}, ${run.settings.connections} connections, ` +
      `ENTRY_TTL_SECONDS=${run.settings.ENTRY_TTL_SECONDS}, memory tier ${(run.settings.MEMORY_TIER_MAX_BYTES ?? 0) / MiB} MiB; ` +
      `${m.cpus} × ${m.cpuModel}, Node ${m.node}, load average ${m.loadavgBefore[0]} before, ${m.loadavgAfter[0]} after.`,
    '',
    '| kind | connections | requests | req/s | failed | shed (503/504) | p50 ms | p99 ms | max ms | answered as |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const kind of KINDS) {
    const r = run.kinds[kind.name];
    if (!r) continue;
    const how = Object.keys(r.cacheStatus).length > 0 ? share(r.cacheStatus) : `${r.itemErrors} item errors`;
    lines.push(
      `| ${kind.name} (${kind.rate ? `${kind.rate}/s` : 'flat out'}) | ${kind.connections} | ${r.requests} | ${Math.round(r.rps)} | ${failedOf(kind, r)} | ${shedOf(kind, r)} | ${r.p50} | ${r.p99} | ${r.max} | ${how} |`,
    );
  }
  const o = run.operator;
  lines.push(`| operator refresh (every 2 s) | 1 | ${o.requests} | 0.5 | ${o.failed} | – | ${o.p50} | ${o.p99} | – | 202 |`, '');
  const mem = v.memory;
  lines.push(
    `**Memory** (${mem.warmUpSeconds}–${mem.windowSeconds} s against ${round(run.loadSeconds - mem.windowSeconds, 1)}–${run.loadSeconds} s): RSS peak ${mem.rssPeakMiB.first} → ${mem.rssPeakMiB.last} MiB (${signed(mem.rssPeakMiB.growth)}, bound +${mem.rssPeakMiB.bound}), median ${mem.rssMiB.first} → ${mem.rssMiB.last} MiB; ` +
      `heap used: floor ${mem.heapFloorMiB.first} → ${mem.heapFloorMiB.last} MiB (${signed(mem.heapFloorMiB.growth)}, ${mem.heapFloorMiB.judged ? `bound +${mem.heapFloorMiB.bound}` : `not judged in windows under ${FLOOR_WINDOW_SECONDS} s`}), median ${mem.heapMiB.first} → ${mem.heapMiB.last} MiB. ` +
      `Event-loop delay p99 per 2 s: median ${mem.loopP99Ms.median} ms, worst ${mem.loopP99Ms.max} ms.`,
    `**Refreshes**: ${Object.entries(run.refreshes).map(([k, n]) => `${k} ${n}`).join(', ')} (skipped: shed because the pool was full).`,
    `**Mail**: ${run.mail.sent} sent through the outbox by ${run.mail.mailers} mailer processes, ${run.mail.received} received by the SMTP server for ${run.mail.receivedEntries} entries ` +
      `(${run.kinds.invalid?.distinctIds ?? 0} invalid ids read), ${run.mail.dead} dead, ${run.mail.leftUnsent} left unsent.`,
    `**Server log**: warnings ${Object.entries(run.serverLog.warnings).map(([msg, n]) => `"${msg}" × ${n}`).join(', ') || 'none'}; ${run.serverLog.errors} errors.${run.scrapeFailures ? ` ${run.scrapeFailures} /metrics scrapes failed.` : ''}`,
    '',
    v.ok ? `PASS: no failed request, memory within its bounds, all mail delivered once.` : `FAIL: ${v.problems.join('; ')}.`,
  );
  for (const line of run.serverLog.excerpt) lines.push(`  server: ${line.slice(0, 400)}`);
  return `${lines.join('\n')}\n`;
}
