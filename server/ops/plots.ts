// The status page's plots: the last 5 minutes and the last hour of this
// process (ops/history.ts), each signal a small inline SVG — no script, no
// file from elsewhere, so the page's strict CSP stands. Every value is a
// number written by this file; labels are fixed text.
import { escapeHtml } from '../../shared/html.js';
import type { Sample } from './history.js';

interface Line {
  key: string;
  label: string;
  color: string;
  /** Shown multiplied (a share as %). */
  times?: number;
}

interface PlotSpec {
  title: string;
  unit: string;
  lines: Line[];
}

const PLOTS: PlotSpec[] = [
  {
    title: 'Reads',
    unit: '/s',
    lines: [
      { key: 'hit', label: 'hit', color: '#16a34a' },
      { key: 'stale', label: 'stale', color: '#d97706' },
      { key: 'miss', label: 'miss', color: '#2563eb' },
    ],
  },
  {
    title: 'Upstream refreshes',
    unit: '/s',
    lines: [
      { key: 'ok', label: 'ok', color: '#16a34a' },
      { key: 'notModified', label: '304', color: '#0891b2' },
      { key: 'notFound', label: '404', color: '#6b7280' },
      { key: 'invalid', label: 'invalid', color: '#d97706' },
      { key: 'failed', label: 'failed', color: '#dc2626' },
    ],
  },
  {
    title: 'Upstream latency',
    unit: 'ms',
    lines: [
      { key: 'latencyP50', label: 'p50', color: '#2563eb' },
      { key: 'latencyP99', label: 'p99', color: '#7c3aed' },
    ],
  },
  { title: 'Updater queue', unit: 'tasks', lines: [{ key: 'queued', label: 'queued', color: '#2563eb' }] },
  { title: 'Updater workers busy', unit: '%', lines: [{ key: 'busy', label: 'busy', color: '#2563eb', times: 100 }] },
  { title: 'Outbox unsent', unit: 'messages', lines: [{ key: 'outboxUnsent', label: 'unsent', color: '#d97706' }] },
  { title: 'Oldest unsent message', unit: 's', lines: [{ key: 'outboxOldest', label: 'age', color: '#d97706' }] },
  { title: 'Event-loop delay', unit: 'ms', lines: [{ key: 'eventLoopP99', label: 'p99', color: '#7c3aed' }] },
  { title: 'Upstream breaker', unit: '1 = open', lines: [{ key: 'breakerOpen', label: 'open', color: '#dc2626' }] },
];

const W = 300;
const H = 64;

export const PLOT_STYLE =
  '.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:.6rem;margin:.6rem 0 1.4rem}' +
  '.plot{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:.5rem .6rem}.plot h3{margin:0 0 .2rem;font-size:.85rem}' +
  '.plot svg{width:100%;height:auto;display:block}.plot .legend{font-size:.75rem;color:#555}.plot .legend i{display:inline-block;width:.6rem;height:.6rem;border-radius:2px;margin:0 .2rem 0 .5rem}';

function short(n: number): string {
  if (n >= 1000) return `${(n / 1000).toFixed(n >= 10_000 ? 0 : 1)}k`;
  return n >= 10 || n === 0 ? String(Math.round(n)) : n.toFixed(n >= 1 ? 1 : 2);
}

const value = (s: Sample, l: Line) => (s[l.key] ?? 0) * (l.times ?? 1);

function plot(spec: PlotSpec, samples: readonly Sample[]): string {
  const top = Math.max(1, ...samples.flatMap((s) => spec.lines.map((l) => value(s, l))));
  // One sample so far is drawn as a level line across.
  const drawn = samples.length === 1 ? [samples[0] as Sample, samples[0] as Sample] : samples;
  const x = (i: number) => (i / Math.max(1, drawn.length - 1)) * W;
  const y = (v: number) => H - (v / top) * (H - 4);
  const paths = spec.lines
    .map((l) => `<polyline fill="none" stroke="${l.color}" stroke-width="1.5" points="${drawn.map((s, i) => `${x(i).toFixed(1)},${y(value(s, l)).toFixed(1)}`).join(' ')}"/>`)
    .join('');
  const lastSample = samples.at(-1);
  const legend = spec.lines.map((l) => `<i style="background:${l.color}"></i>${escapeHtml(l.label)} ${lastSample ? short(value(lastSample, l)) : '–'}`).join('');
  return `<div class="plot" data-points="${samples.length}"><h3>${escapeHtml(spec.title)} <span class="legend">(${escapeHtml(spec.unit)}, top ${short(top)})</span></h3>
<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img" aria-label="${escapeHtml(spec.title)}"><line x1="0" y1="${H}" x2="${W}" y2="${H}" stroke="#ddd"/>${paths}</svg>
<div class="legend">now:${legend}</div></div>`;
}

/** A grid of every plot over these samples, or a line saying there is nothing yet. */
export function plots(samples: readonly Sample[]): string {
  if (samples.length === 0) return '<p class="empty">No sample yet: the first comes a second after start.</p>';
  return `<div class="plots">${PLOTS.map((p) => plot(p, samples)).join('\n')}</div>`;
}
