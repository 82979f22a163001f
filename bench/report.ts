// Turns one benchmark run's results into the Markdown table (README and
// bench/results/latest.md) and the SVG chart of the runtime comparison.
import type { ColdPath } from './cold-path-section.js';
import type { Results } from './run.js';

const fmt = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined || Number.isNaN(x) ? '–' : String(Math.round(x * 10 ** digits) / 10 ** digits);

const mark = (ok: boolean | null | undefined) => (ok === null || ok === undefined ? '–' : ok ? '✅' : '❌');

export function markdown(r: Results): string {
  const lines: string[] = [];
  const t = r.targets;
  lines.push(`Measured ${r.machine.date} on ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Node ${r.machine.node} (${r.mode} run: ${r.plan.reps} × ${r.plan.seconds} s, medians; each ratio is the median of ratios taken round by round, its spread in brackets${r.mode === 'quick' ? '; the spawn baseline only in the full run' : ''}).`, '');
  lines.push('| target | figure | met |', '| --- | --- | --- |');
  const range = (s: { min: number; max: number } | undefined, digits = 2) => (s ? ` (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : '');
  lines.push(`| \`hitPath.ratio\` ≥ 1.2 | ${fmt(r.hitPath.ratio, 3)}${range(r.hitPath.ratioSpread, 3)} | ${mark(t.hitPathRatio)} |`);
  for (const rt of ['thread', 'process'] as const) {
    lines.push(`| \`isolation.${rt}.p99Ratio\` ≤ 1.5 | ${fmt(r.isolation[rt]?.p99Ratio)}${range(r.isolation[rt]?.p99RatioSpread)} | ${mark(t[`isolation_${rt}`])} |`);
  }
  if (r.coldPath) {
    const c = r.coldPath.sqlite;
    lines.push(`| \`coldPath.sqlite.ratio\` ≥ 0.8, p99 ≤ 10 ms | ${fmt(c.ratio, 3)}${range(c.ratioSpread, 3)}, p99 ${fmt(c.cold.p99)} ms | ${mark(t.coldPathRatio)} |`);
    const pg = r.coldPath.postgres;
    if (pg) lines.push(`| \`coldPath.postgres.ratio\` ≥ 0.6 (direct) | ${fmt(pg.ratio, 3)}${range(pg.ratioSpread, 3)} | ${mark(t.coldPathPostgres)} |`);
  }
  lines.push(`| \`miss.overheadMs.p50\` ≤ 3 | ${fmt(r.miss.overheadMs.p50)} ms | ${mark(t.missOverhead)} |`);
  lines.push(`| mail ≥ 200 messages/s, ≤ 1 process per batch | ${fmt(r.mail.messagesPerSecond, 1)} /s, ${fmt(r.mail.processesPerBatch, 3)} per batch | ${mark(t.mail)} |`, '');

  lines.push(`**Hit path** (GET /entries/:id, fresh rows over many ids, ~1 KB answers, 50 connections; measured with ${r.hitPath.generator})`, '');
  lines.push('| server | requests/s | p50 ms | p99 ms |', '| --- | ---: | ---: | ---: |');
  const names = { freshen: 'freshen', koa: 'bare Koa + @koa/router', node: 'node:http', nginx: 'nginx proxy_cache' } as const;
  for (const name of ['freshen', 'koa', 'node', 'nginx'] as const) {
    const x = r.hitPath[name];
    if (x) lines.push(`| ${names[name]} | ${x.rps} | ${fmt(x.p50)} | ${fmt(x.p99)} |`);
  }
  const nginx = r.hitPath.vsNginx === null ? `nginx: ${r.hitPath.nginxNote}` : `÷ nginx = ${fmt(r.hitPath.vsNginx, 3)} (${r.hitPath.nginxNote})`;
  lines.push('', `freshen ÷ bare Koa = **${fmt(r.hitPath.ratio, 3)}**${range(r.hitPath.ratioSpread, 3)}, ÷ node:http = ${fmt(r.hitPath.vsNode, 3)}, ${nginx}.`, '');

  lines.push('**Event-loop isolation** (hit p99 at 200 req/s, idle and during a storm of CPU-heavy refreshes, 1 worker)', '');
  lines.push(
    '| runtime | idle p99 ms | storm p99 ms | ratio | refreshes/s in the storm | main thread CPU ms per refresh |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const [rt, x] of Object.entries(r.isolation)) {
    lines.push(
      `| ${rt} | ${fmt(x.idleP99)} | ${fmt(x.stormP99)} | ${fmt(x.p99Ratio)}${range(x.p99RatioSpread)} | ${fmt(x.refreshesPerSecond, 1)} | ${fmt(x.mainCpuMsPerRefresh)} |`,
    );
  }
  lines.push('', '**Refresh throughput and cost** (pool of one worker per core)', '');
  lines.push(
    '| runtime | start ms | no-op round trip ms | MB per worker | CPU-heavy tasks/s | p50 / p99 ms | IO-heavy tasks/s | p50 / p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const [rt, x] of Object.entries(r.refresh)) {
    lines.push(
      `| ${rt} | ${fmt(x.startMs, 1)} | ${fmt(x.noopRoundTripMs, 3)} | ${fmt(x.memoryPerWorkerMB, 1)} | ${fmt(x.cpu.tasksPerSecond, 1)} | ${fmt(x.cpu.p50Ms, 1)} / ${fmt(x.cpu.p99Ms, 1)} | ${fmt(x.io.tasksPerSecond, 1)} | ${fmt(x.io.p50Ms, 1)} / ${fmt(x.io.p99Ms, 1)} |`,
    );
  }
  lines.push('', `**Miss path**: upstream ${fmt(r.miss.upstreamMs.p50)} ms p50 alone; through freshen ${fmt(r.miss.missMs.p50)} ms; overhead p50 ${fmt(r.miss.overheadMs.p50)} ms, p99 ${fmt(r.miss.overheadMs.p99)} ms (${r.miss.requests} first reads).`, '');
  lines.push(`**Mail**: ${r.mail.messages} messages at ${fmt(r.mail.messagesPerSecond, 1)} /s to loopback SMTP by ${r.mail.processesSpawned} mailer processes (${r.mail.batches} batches).`, '');
  lines.push('**Scaling**', '', '| measurement | figures |', '| --- | --- |');
  lines.push(`| hit requests/s by WEB_CONCURRENCY | ${Object.entries(r.scaling.webConcurrency).map(([k, v]) => `${k.replace('webConcurrency', '')}: ${v}`).join(', ')} |`);
  lines.push(`| CPU-heavy refresh tasks/s by UPDATER_MAX_WORKERS (threads) | ${Object.entries(r.scaling.updaterWorkers).map(([k, v]) => `${k}: ${fmt(v, 1)}`).join(', ')} |`);
  if (r.coldPath) lines.push('', coldPathMarkdown(r.coldPath));
  return `${lines.join('\n')}\n`;
}

export function coldPathMarkdown(c: ColdPath): string {
  const lines = [
    `**Cold path** (hits from SQL: reads spread uniformly over ${c.sqlite.entries} stored entries, a memory tier of a tenth of them, 32 connections; against memory hits, round by round)`,
    '',
    '| database | cold req/s | p50 / p99 ms | memory hits req/s | ratio (spread) | bytes per entry on disk / in memory |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [name, x] of [
    ['SQLite', c.sqlite],
    ['Postgres, named statements (direct)', c.postgres],
    ['Postgres, unnamed (pooler-safe default)', c.postgresPoolerSafe],
  ] as const) {
    if (!x) continue;
    lines.push(
      `| ${name} | ${x.cold.rps} | ${fmt(x.cold.p50)} / ${fmt(x.cold.p99)} | ${x.hot.rps} | **${fmt(x.ratio, 3)}** (${fmt(x.ratioSpread.min, 3)}–${fmt(x.ratioSpread.max, 3)}) | ${x.bytesOnDiskPerEntry} / ${x.bytesInMemoryPerEntry} |`,
    );
  }
  if (c.postgresNote) lines.push('', `Postgres: ${c.postgresNote}.`);
  return `${lines.join('\n')}\n`;
}

type Group = { label: string; values: Array<{ v: number; color: string }> };

/** One bar chart panel at x0: groups of bars, linear or log scale. */
function panel(x0: number, title: string, groups: Group[], log: boolean, unit: string): string {
  const w = 380;
  const h = 220;
  const top = 60;
  const all = groups.flatMap((g) => g.values.map((v) => v.v)).filter((v) => v > 0);
  const max = Math.max(...all, 1);
  const min = log ? Math.min(...all, 1) / 2 : 0;
  const y = (v: number) => (log ? (Math.log10(Math.max(v, min)) - Math.log10(min)) / (Math.log10(max * 1.2) - Math.log10(min)) : v / (max * 1.15)) * h;
  const gw = w / groups.length;
  const bars = groups
    .map((g, i) => {
      const bw = (gw - 16) / g.values.length;
      const rects = g.values
        .map((b, j) => {
          const bh = y(b.v);
          const x = x0 + i * gw + 8 + j * bw;
          return `<rect x="${x}" y="${top + h - bh}" width="${bw - 2}" height="${bh}" fill="${b.color}"/><text x="${x + (bw - 2) / 2}" y="${top + h - bh - 4}" font-size="10" text-anchor="middle">${fmt(b.v, b.v < 10 ? 1 : 0)}</text>`;
        })
        .join('');
      return `${rects}<text x="${x0 + i * gw + gw / 2}" y="${top + h + 16}" font-size="12" text-anchor="middle">${g.label}</text>`;
    })
    .join('');
  return `<text x="${x0}" y="${top - 30}" font-size="14" font-weight="600">${title}</text><text x="${x0}" y="${top - 14}" font-size="11" fill="#555">${unit}</text><line x1="${x0}" y1="${top + h}" x2="${x0 + w}" y2="${top + h}" stroke="#999"/>${bars}`;
}

/** Two panels: hit p99 idle vs storm per runtime (log scale), and refresh tasks/s per runtime. */
export function chart(r: Results): string {
  const runtimes = Object.keys(r.isolation);
  const W = 860;
  const H = 340;
  const iso = panel(
    20,
    'Hit p99 while refreshes run',
    runtimes.map((rt) => ({
      label: rt,
      values: [
        { v: r.isolation[rt]?.idleP99 ?? 0, color: '#93c5fd' },
        { v: r.isolation[rt]?.stormP99 ?? 0, color: '#1d4ed8' },
      ],
    })),
    true,
    'ms, log scale · light: idle · dark: CPU-heavy refresh storm',
  );
  const thr = panel(
    460,
    'Refresh throughput',
    Object.keys(r.refresh).map((rt) => ({
      label: rt,
      values: [
        { v: r.refresh[rt]?.cpu.tasksPerSecond ?? 0, color: '#fca5a5' },
        { v: r.refresh[rt]?.io.tasksPerSecond ?? 0, color: '#b91c1c' },
      ],
    })),
    false,
    'tasks/s · light: CPU-heavy · dark: IO-heavy (50 ms upstream)',
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui,sans-serif"><rect width="100%" height="100%" fill="#fff"/>${iso}${thr}</svg>\n`;
}
