// The operator's status page (/admin): settings, pool load, cache outcomes,
// recent refresh errors and the outbox, readable at a glance, reloading itself
// every few seconds. Rendered from a StatusView; every value is escaped.
import type { StatusView } from './admin-views.js';
import { escapeHtml, layout } from '../../shared/html.js';
import type { Plotted } from './history.js';
import { PLOT_STYLE, plots } from './plots.js';

const RELOAD_SECONDS = 5;

const EXTRA_STYLE = `<style>
body{max-width:70rem}.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.6rem;margin:.6rem 0 1.4rem}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:.6rem .8rem}.card b{display:block;font-size:1.45rem;line-height:1.2}
.card span{color:#666;font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}.warn b{color:#b45309}.bad b{color:#b91c1c}
table{width:100%;border-collapse:collapse;background:#fff;font-size:.88rem}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
th{color:#555;font-weight:600}td.why{max-width:28rem;overflow-wrap:anywhere}.bar{height:.5rem;background:#eee;border-radius:4px;overflow:hidden;margin-top:.3rem}
.bar i{display:block;height:100%;background:#2563eb}.empty{color:#777;font-style:italic}.hint{color:#555;font-size:.85rem;overflow-wrap:anywhere}main table{display:block;overflow-x:auto;max-width:100%}
${PLOT_STYLE}</style>`;

function card(label: string, value: string | number, tone: '' | 'warn' | 'bad' = '', bar?: number): string {
  const meter = bar === undefined ? '' : `<div class="bar"><i style="width:${Math.round(Math.min(1, Math.max(0, bar)) * 100)}%"></i></div>`;
  return `<div class="card ${tone}"><span>${escapeHtml(label)}</span><b>${escapeHtml(String(value))}</b>${meter}</div>`;
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function upstreamSection(u: StatusView['upstream']): string {
  const state = u.state === 'closed' ? 'answering' : u.state === 'probing' ? 'probing' : 'held off';
  const cards = `<div class="cards">
${card('breaker', state, u.state === 'closed' ? '' : 'bad')}
${card('failed in window', `${u.failures} / ${u.attempts}`, u.failures > 0 ? 'warn' : '', u.attempts ? u.failures / u.attempts : 0)}
${card('refreshes held', u.held, u.held > 0 ? 'warn' : '')}
${card('probes', u.probes)}
${card('requests in flight', u.inFlight)}
${card('waiting (misses / other)', `${u.waiting.miss} / ${u.waiting.background}`, u.waiting.miss > 0 ? 'warn' : '')}
${card('capped (503 / dropped)', `${u.capped.miss} / ${u.capped.background}`, u.capped.miss > 0 ? 'warn' : '')}
</div>`;
  const open =
    u.state === 'closed'
      ? ''
      : `<p class="why">Since ${escapeHtml((u.openedAt ?? '').replace('T', ' ').slice(0, 19))}Z no refresh is sent to ${escapeHtml(u.origin)}: ${escapeHtml(u.reason ?? '')}. Stale entries are served as they are; misses are answered 503. Next probe at ${escapeHtml((u.probeAt ?? '').replace('T', ' ').slice(0, 19))}Z.</p>`;
  return cards + open;
}

function sourcesTable(sources: StatusView['sources']): string {
  const rows = sources
    .map((x) => {
      const reads = x.cache.hit + x.cache.stale + x.cache.miss;
      const breaker = x.breaker === 'closed' ? 'answering' : x.breaker === 'probing' ? 'probing' : '<b>held off</b>';
      return `<tr><td>${escapeHtml(x.name)}</td><td><code>${escapeHtml(x.path)}/</code></td><td class="why">${escapeHtml(x.upstream)}</td><td>${x.ttlSeconds} s</td><td>${breaker}</td><td>${reads ? `${Math.round((x.cache.hit / reads) * 100)}%` : '–'} of ${reads}</td><td>${x.cache.refreshes.ok} / ${x.cache.refreshes.invalid} / ${x.cache.refreshes.failed}</td><td>${x.memoryEntries}</td><td>${x.contentTeam || 'none'}</td><td>${x.webhook ? 'yes' : 'no'}</td></tr>`;
    })
    .join('');
  return `<table><tr><th>source</th><th>path</th><th>upstream</th><th>TTL</th><th>breaker</th><th>hits</th><th>refreshes ok / invalid / failed</th><th>in memory</th><th>content team</th><th>webhook</th></tr>${rows}</table>`;
}

function deadLetters(outbox: StatusView['outbox']): string {
  const list = outbox.dead.length
    ? `<table><tr><th>#</th><th>kind</th><th>subject</th><th>tries</th><th>queued</th><th>last error</th></tr>${outbox.dead
        .map(
          (m) =>
            `<tr><td>${m.id}</td><td>${escapeHtml(m.kind)}</td><td>${escapeHtml(m.subject)}</td><td>${m.attempts}</td><td>${escapeHtml(m.createdAt.replace('T', ' ').slice(0, 19))}</td><td class="why">${escapeHtml(m.lastError ?? '')}</td></tr>`,
        )
        .join('')}</table>
<p class="hint">Send one again: <code>curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" …/admin/outbox/<i>#</i>/retry</code>; drop it: <code>curl -X DELETE -H "Authorization: Bearer $ADMIN_TOKEN" …/admin/outbox/<i>#</i></code>.</p>`
    : '<p class="empty">No dead message.</p>';
  const done = outbox.actions.length
    ? `<ul>${outbox.actions.map((a) => `<li>${escapeHtml(a.at.replace('T', ' ').slice(0, 19))}Z: message ${a.id} ${a.action === 'retry' ? 'put back in the queue' : 'deleted'} (request ${escapeHtml(a.requestId)})</li>`).join('')}</ul>`
    : '';
  return list + done;
}

export function statusPage(s: StatusView, history: Plotted): string {
  const { pool, cache, outbox } = s;
  const reads = cache.hit + cache.stale + cache.miss;
  const hitRate = reads > 0 ? `${Math.round((cache.hit / reads) * 100)}%` : '–';
  const settings = Object.entries(s.settings)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
    .join('');
  const pathOf = new Map(s.sources.map((x) => [x.name, x.path]));
  const errors = s.recentErrors.length
    ? `<table><tr><th>entry</th><th>kind</th><th>why</th><th>failures</th><th>last failed</th><th>next try</th><th>TTL</th></tr>${s.recentErrors
        .map(
          (e) =>
            `<tr><td><a href="${escapeHtml(pathOf.get(e.source) ?? '/entries')}/${escapeHtml(e.id)}">${escapeHtml(e.id)}</a></td><td>${escapeHtml(e.code)}</td><td class="why">${escapeHtml(e.error)}</td><td>${e.failures}</td><td>${when(e.at)}</td><td>${when(e.nextRefreshAt)}</td><td>${e.ttlMs === null ? 'the setting' : `${e.ttlMs / 1000} s, the upstream's`}</td></tr>`,
        )
        .join('')}</table>`
    : '<p class="empty">No refresh is failing.</p>';
  const messages = outbox.recent.length
    ? `<table><tr><th>#</th><th>kind</th><th>state</th><th>subject</th><th>tries</th><th>queued</th><th>last error</th></tr>${outbox.recent
        .map(
          (m) =>
            `<tr><td>${m.id}</td><td>${escapeHtml(m.kind)}</td><td>${escapeHtml(m.state)}</td><td>${escapeHtml(m.subject)}</td><td>${m.attempts}</td><td>${escapeHtml(m.createdAt.replace('T', ' ').slice(0, 19))}</td><td class="why">${escapeHtml(m.lastError ?? '')}</td></tr>`,
        )
        .join('')}</table>`
    : '<p class="empty">No message yet.</p>';
  const unsent = outbox.counts.pending + outbox.counts.sending;

  return layout(
    'Status',
    `<p class="status">freshen · process ${s.pid} · up ${Math.floor(s.uptimeSeconds / 60)} min · reloads every ${RELOAD_SECONDS} s</p>
<h1>Status</h1>
<p class="hint">${history.processes > 1 ? `The plots are the whole node's: its ${history.processes} processes together. The rest of the page is this process's.` : "The plots are this process's."}</p>
<h2>The last 5 minutes</h2>
${plots(history.lastMinutes)}
<h2>The last hour</h2>
${plots(history.lastHour)}
<h2>Updater pool (${escapeHtml(pool.runtime === 'process' ? 'child processes' : 'worker threads')})</h2>
<div class="cards">
${card('workers', `${pool.busyWorkers} busy / ${pool.workers}`)}
${card('utilisation', `${Math.round(pool.utilization * 100)}%`, pool.utilization > 0.85 ? 'warn' : '', pool.utilization)}
${card('in flight', pool.inFlight)}
${card('queued', `${pool.queued} / ${pool.maxQueue}`, pool.queued > pool.maxQueue * 0.8 ? 'warn' : '', pool.maxQueue ? pool.queued / pool.maxQueue : 0)}
${card('completed', pool.completed)}
${card('abandoned', pool.abandoned, pool.abandoned > 0 ? 'warn' : '')}
${card('workers killed', pool.killed, pool.killed > 0 ? 'bad' : '')}
</div>
<h2>Sources</h2>
${sourcesTable(s.sources)}
<h2>Upstream${s.sources.length > 1 ? ` of ${escapeHtml(s.upstreamOf)}` : ''}</h2>
${upstreamSection(s.upstream)}
<h2>Reads</h2>
<div class="cards">
${card('hit rate', hitRate)}
${card('hits', cache.hit)}
${card('stale served', cache.stale)}
${card('misses', cache.miss)}
${card('collapsed', cache.collapsed)}
${card('refreshes shed', cache.refreshSkipped, cache.refreshSkipped > 0 ? 'warn' : '')}
${card('in memory', s.memoryEntries)}
${card('in the copy (≈)', s.storedEntries.toLocaleString('en'))}
</div>
<h2>Refreshes</h2>
<div class="cards">
${card('ok', cache.refreshes.ok)}
${card('not modified (304)', cache.refreshes['not-modified'])}
${card('not found', cache.refreshes['not-found'])}
${card('invalid data', cache.refreshes.invalid, cache.refreshes.invalid > 0 ? 'warn' : '')}
${card('failed', cache.refreshes.failed, cache.refreshes.failed > 0 ? 'bad' : '')}
</div>
<h2>Failing entries</h2>
${errors}
<h2>Outbox</h2>
<div class="cards">
${card('unsent', unsent, unsent > 0 ? 'warn' : '')}
${card('oldest unsent', outbox.oldestUnsentSeconds === null ? '–' : `${outbox.oldestUnsentSeconds} s`)}
${card('sent (≈)', outbox.counts.sent)}
${card('dead', outbox.counts.dead, outbox.counts.dead > 0 ? 'bad' : '')}
${card('mailers running', outbox.mailers.running)}
</div>
${messages}
<h2>Dead letters</h2>
${deadLetters(outbox)}
<h2>Settings</h2>
<table>${settings}</table>`,
    `${EXTRA_STYLE}<meta http-equiv="refresh" content="${RELOAD_SECONDS}">`,
  );
}
