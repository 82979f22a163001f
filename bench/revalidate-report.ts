// The Markdown tables of the revalidation benchmark (revalidate-section.ts).
import type { Spread } from './revalidate-pool.js';
import type { RevalidateResults, ServerPhase } from './revalidate-section.js';

const fmt = (x: number, digits = 2) => (Number.isNaN(x) ? '–' : String(Math.round(x * 10 ** digits) / 10 ** digits));
const spread = (s: Spread) => (s.pairs > 1 ? `**${fmt(s.median, 3)}** (${fmt(s.min, 3)}–${fmt(s.max, 3)}, ${s.pairs} pairs)` : `**${fmt(s.median, 3)}** (1 pair)`);
const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KB`;

export function revalidateMarkdown(r: RevalidateResults): string {
  const s = r.settings;
  const lines: string[] = [];
  lines.push(
    `**Revalidation and refresh ahead** (${r.mode} run ${r.date}, ${r.seconds} s; ratios are taken pair by pair, 304 and 200 or the two settings alternating: median, least–greatest)`,
    '',
  );
  lines.push(
    '| runtime | record | 304 tasks/s | p50 / p99 ms | 200 + page tasks/s | p50 / p99 ms | time per 304 ÷ per 200 |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
  );
  for (const [rt, sizes] of Object.entries(r.pool)) {
    for (const x of Object.values(sizes)) {
      lines.push(
        `| ${rt} | ${kb(x.recordBytes)} | ${fmt(x.notModified.tasksPerSecond, 1)} | ${fmt(x.notModified.p50Ms, 1)} / ${fmt(x.notModified.p99Ms, 1)} | ${fmt(x.ok.tasksPerSecond, 1)} | ${fmt(x.ok.p50Ms, 1)} / ${fmt(x.ok.p99Ms, 1)} | ${spread(x.costRatio)} |`,
      );
    }
  }
  lines.push(
    '',
    `Server CPU per refresh an operator asks for (its request included; workers are processes of their own): 304 ${fmt(r.store.notModifiedMs, 3)} ms, 200 ${fmt(r.store.okMs, 3)} ms, ratio ${spread(r.store.ratio)}; pages written after ${r.store.refreshes} 304s: ${r.store.pagesAfter304}.`,
    '',
  );
  lines.push(
    `${s.entries} entries (${s.changingShare * 100} % change every second), ENTRY_TTL_SECONDS=${s.ttlSeconds}, ${s.readsPerSecond} reads/s for ${s.phaseSeconds} s, updater on processes, ${s.rounds} round(s) of each, medians:`,
    '',
  );
  lines.push(
    '| run | upstream requests | 304 | 200 | bytes sent | pages written | refresh CPU s | server CPU s | stale answers |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  const row = (name: string, p: ServerPhase) =>
    `| ${name} | ${p.upstream.requests} | ${p.upstream.notModified} | ${p.upstream.ok} | ${kb(p.upstream.wireBytes)} | ${p.pages} | ${fmt(p.workerCpuSeconds, 3)} | ${fmt(p.serverCpuSeconds, 3)} | ${fmt(p.staleShare * 100, 1)} % |`;
  lines.push(row('uniform reads, If-None-Match honoured', r.savings.honoured), row('uniform reads, every refresh a 200', r.savings.ignored));
  lines.push(row(`Zipf ${s.zipfS} reads, ENTRY_REFRESH_AHEAD=0`, r.ahead.off), row(`Zipf ${s.zipfS} reads, ENTRY_REFRESH_AHEAD=${s.refreshAhead}`, r.ahead.on));
  lines.push(
    '',
    `Honoured ÷ not: bytes sent ${spread(r.savings.wireBytesRatio)}, refresh CPU ${spread(r.savings.workerCpuRatio)}, server CPU ${spread(r.savings.serverCpuRatio)}.`,
    `Refresh ahead: upstream requests ${fmt(r.ahead.off.upstreamPerSecond, 1)} → ${fmt(r.ahead.on.upstreamPerSecond, 1)} /s (${fmt(r.ahead.on.upstreamPerSecond - r.ahead.off.upstreamPerSecond, 1)} /s more), ratio ${spread(r.ahead.extraUpstreamRatio)}; stale answers ${fmt(r.ahead.off.staleShare * 100, 1)} % → ${fmt(r.ahead.on.staleShare * 100, 1)} %; shortest time between two fetches of one entry ${fmt(r.ahead.off.minGapMs, 0)} ms → ${fmt(r.ahead.on.minGapMs, 0)} ms (TTL ${s.ttlSeconds * 1000} ms).`,
  );
  return `${lines.join('\n')}\n`;
}
