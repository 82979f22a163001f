// The messages freshen sends, composed here and put in the outbox: one to the
// content team when upstream data fails the schema, one to the admins when a
// request fails with an unexpected error or the database was away. Upstream text never reaches a header
// unflattened (no CR/LF: no added headers) and is escaped in HTML bodies.
import { createHash, randomUUID } from 'node:crypto';
import type { NewMessage } from '../../db/outbox.js';
import { escapeHtml } from '../../shared/html.js';
import { DEFAULT_SOURCE } from '../../shared/sources.js';

/** Text safe for a header: one line, no control characters, bounded. */
export function headerText(value: string, max = 160): string {
  // oxlint-disable-next-line no-control-regex -- control characters are what is removed
  const flat = value.replace(/[\r\n\u2028\u2029]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function fingerprint(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 16);
}

function messageId(from: string): string {
  return `<${randomUUID()}@${from.split('@')[1] ?? 'localhost'}>`;
}

const HTML_STYLE = 'font-family:system-ui,sans-serif;line-height:1.5;color:#1d1d1f';

/** Which entry: its id, and its source when that is not the default one (the notice then names it). */
interface EntryRef {
  id: string;
  source?: string;
}

// `products entry p1` for another source; `entry p1` (as before there were sources) for the default one.
function entryWords(info: EntryRef): { noun: string; key: string } {
  return info.source === undefined || info.source === DEFAULT_SOURCE
    ? { noun: `entry ${info.id}`, key: info.id }
    : { noun: `${info.source} entry ${info.id}`, key: `${info.source}:${info.id}` };
}

const upper = (text: string): string => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;

export interface InvalidData extends EntryRef {
  problems: readonly string[];
  /** The URL that answered with the invalid data. */
  url: string;
  seenAt: number;
  /** The record's title, if it had one (upstream text). */
  title?: string;
}

export function invalidDataNotice(info: InvalidData, recipients: readonly string[], from: string): NewMessage {
  const seen = new Date(info.seenAt).toISOString();
  const named = info.title ? ` “${headerText(info.title, 80)}”` : '';
  const problems = info.problems.map((p) => `  - ${p}`).join('\n');
  const { noun, key } = entryWords(info);
  return {
    kind: 'invalid-data',
    recipients,
    subject: headerText(`[freshen] ${upper(noun)}${named} has invalid data`),
    text: `The upstream record of ${noun} does not satisfy the JSON Schema, so freshen
cannot store it. Readers get the last good version if there is one, or an apology.

Entry:     ${info.id}
Upstream:  ${info.url}
Seen at:   ${seen}

Problems:
${problems}

You get this message once per entry and set of problems within the cool-down.
`,
    html: `<div style="${HTML_STYLE}">
<p>The upstream record of ${escapeHtml(noun.slice(0, -info.id.length))}<strong>${escapeHtml(info.id)}</strong> does not satisfy the JSON Schema, so freshen cannot store it. Readers get the last good version if there is one, or an apology.</p>
<table cellpadding="4"><tr><th align="left">Entry</th><td>${escapeHtml(info.id)}</td></tr>
<tr><th align="left">Upstream</th><td>${escapeHtml(info.url)}</td></tr>
<tr><th align="left">Seen at</th><td>${escapeHtml(seen)}</td></tr></table>
<p>Problems:</p>
<ul>${info.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>
<p style="color:#666">You get this message once per entry and set of problems within the cool-down.</p>
</div>`,
    dedupeKey: `invalid-data:${key}:${fingerprint(info.problems.toSorted())}`,
    messageId: messageId(from),
  };
}

export interface ServerError {
  error: unknown;
  /** The request that failed; none for an error nobody handled (server/ops/unexpected.ts). */
  method?: string;
  url?: string;
  at: number;
}

export function serverErrorNotice(info: ServerError, recipients: readonly string[], from: string): NewMessage {
  const err = info.error instanceof Error ? info.error : new Error(String(info.error));
  const stack = err.stack ?? `${err.name}: ${err.message}`;
  // Same error, same place: same fingerprint, whatever the request. An error
  // with a code is fingerprinted by it: its message may embed values.
  const firstFrame = stack.split('\n').find((l) => l.trim().startsWith('at ')) ?? '';
  const code = (err as { code?: unknown }).code;
  const print = fingerprint([err.name, typeof code === 'string' ? code : err.message, firstFrame.trim()]);
  const request = info.method === undefined ? 'none (an error no code handled)' : `${info.method} ${info.url ?? ''}`;
  const what =
    info.method === undefined
      ? 'An error no code handled reached the process; it was logged, and the server serves on.'
      : 'A request failed with an unexpected error; the client got a 500 page.';
  const at = new Date(info.at).toISOString();
  return {
    kind: 'server-error',
    recipients,
    subject: headerText(`[freshen] ${err.name}: ${err.message}`),
    text: `${what}

Request:      ${request}
At:           ${at}
Fingerprint:  ${print}

${stack}

You get this message once per fingerprint within the cool-down.
`,
    html: `<div style="${HTML_STYLE}">
<p>${what}</p>
<table cellpadding="4"><tr><th align="left">Request</th><td><code>${escapeHtml(request)}</code></td></tr>
<tr><th align="left">At</th><td>${escapeHtml(at)}</td></tr>
<tr><th align="left">Fingerprint</th><td>${print}</td></tr></table>
<pre style="background:#f6f6f6;padding:8px;white-space:pre-wrap">${escapeHtml(stack)}</pre>
<p style="color:#666">You get this message once per fingerprint within the cool-down.</p>
</div>`,
    dedupeKey: `server-error:${print}`,
    messageId: messageId(from),
  };
}

export interface DatabaseOutage {
  /** When the first request found the database away, and when it answered again (database time). */
  from: number;
  to: number;
  /** What the first failure said (an error code, not its message). */
  code: string;
  node: string;
}

export function databaseOutageNotice(info: DatabaseOutage, recipients: readonly string[], from: string): NewMessage {
  const seconds = Math.max(0, Math.round((info.to - info.from) / 1000));
  const [start, end] = [new Date(info.from).toISOString(), new Date(info.to).toISOString()];
  return {
    kind: 'database-outage',
    recipients,
    subject: headerText(`[freshen] The database was unavailable for ${seconds} s (${info.code})`),
    text: `freshen could not reach its database and answered 503 to the reads that needed it
(memory hits were still served). It is reachable again.

From:   ${start}
To:     ${end}
Error:  ${info.code}
Seen by: ${info.node}

You get this message once per kind of error within the cool-down, however many nodes saw it.
`,
    html: `<div style="${HTML_STYLE}">
<p>freshen could not reach its database and answered 503 to the reads that needed it (memory hits were still served). It is reachable again.</p>
<table cellpadding="4"><tr><th align="left">From</th><td>${escapeHtml(start)}</td></tr>
<tr><th align="left">To</th><td>${escapeHtml(end)}</td></tr>
<tr><th align="left">Error</th><td>${escapeHtml(info.code)}</td></tr>
<tr><th align="left">Seen by</th><td>${escapeHtml(info.node)}</td></tr></table>
<p style="color:#666">You get this message once per kind of error within the cool-down, however many nodes saw it.</p>
</div>`,
    dedupeKey: `database-outage:${fingerprint([info.code])}`,
    messageId: messageId(from),
  };
}

export interface Resolved extends EntryRef {
  /** The URL the entry is fetched from (credentials masked). */
  url: string;
  /** The problems the content team was told about, as stored ("invalid: …"). */
  problems: string;
  resolvedAt: number;
}

/** The entry they were told was invalid is valid again: one short message, deduped like the first. */
export function resolvedNotice(info: Resolved, recipients: readonly string[], from: string): NewMessage {
  const at = new Date(info.resolvedAt).toISOString();
  const was = info.problems.replace(/^invalid: /, '');
  const { noun, key } = entryWords(info);
  return {
    kind: 'resolved',
    recipients,
    subject: headerText(`[freshen] ${upper(noun)} is valid again`),
    text: `The upstream record of ${noun} satisfies the JSON Schema again, and freshen
has stored it. Nothing more to do.

Entry:     ${info.id}
Upstream:  ${info.url}
Valid at:  ${at}
It was:    ${was}
`,
    html: `<div style="${HTML_STYLE}">
<p>The upstream record of ${escapeHtml(noun.slice(0, -info.id.length))}<strong>${escapeHtml(info.id)}</strong> satisfies the JSON Schema again, and freshen has stored it. Nothing more to do.</p>
<table cellpadding="4"><tr><th align="left">Entry</th><td>${escapeHtml(info.id)}</td></tr>
<tr><th align="left">Upstream</th><td>${escapeHtml(info.url)}</td></tr>
<tr><th align="left">Valid at</th><td>${escapeHtml(at)}</td></tr>
<tr><th align="left">It was</th><td>${escapeHtml(was)}</td></tr></table>
</div>`,
    // One per entry and set of problems within the cool-down, as the notice it answers.
    dedupeKey: `resolved:${key}:${fingerprint([info.problems])}`,
    messageId: messageId(from),
  };
}

export interface UpstreamUnhealthy {
  origin: string;
  /** Why it opened: the failed share of the window, or the upstream's Retry-After. */
  reason: string;
  /** When it opened and when the first probe may go (database time). */
  at: number;
  until: number;
  node: string;
}

/** The breaker opened: once per origin within the cool-down, however many nodes saw it. */
export function upstreamUnhealthyNotice(info: UpstreamUnhealthy, recipients: readonly string[], from: string): NewMessage {
  const [at, until] = [new Date(info.at).toISOString(), new Date(info.until).toISOString()];
  return {
    kind: 'upstream-unhealthy',
    recipients,
    subject: headerText(`[freshen] The upstream ${info.origin} is failing: freshen stopped asking it`),
    text: `Most refreshes from ${info.origin} failed, so freshen stopped asking it: stale entries are
served as they are, and reads of entries it does not hold are answered 503 with Retry-After.
One probe goes after a cool-off (doubling while it fails); when one succeeds, refreshes
resume and you get another message.

Upstream: ${info.origin}
Why:      ${info.reason}
Since:    ${at}
Probe at: ${until}
Seen by:  ${info.node}

You get this message once per upstream within the cool-down, however many nodes saw it.
`,
    html: `<div style="${HTML_STYLE}">
<p>Most refreshes from <strong>${escapeHtml(info.origin)}</strong> failed, so freshen stopped asking it: stale entries are served as they are, and reads of entries it does not hold are answered 503 with Retry-After. One probe goes after a cool-off (doubling while it fails); when one succeeds, refreshes resume and you get another message.</p>
<table cellpadding="4"><tr><th align="left">Upstream</th><td>${escapeHtml(info.origin)}</td></tr>
<tr><th align="left">Why</th><td>${escapeHtml(info.reason)}</td></tr>
<tr><th align="left">Since</th><td>${escapeHtml(at)}</td></tr>
<tr><th align="left">Probe at</th><td>${escapeHtml(until)}</td></tr>
<tr><th align="left">Seen by</th><td>${escapeHtml(info.node)}</td></tr></table>
<p style="color:#666">You get this message once per upstream within the cool-down, however many nodes saw it.</p>
</div>`,
    dedupeKey: `upstream-unhealthy:${fingerprint([info.origin])}`,
    messageId: messageId(from),
  };
}

export interface UpstreamHealthy {
  origin: string;
  /** When the breaker opened, and when a probe closed it (database time). */
  openedAt: number;
  at: number;
  node: string;
}

/** A probe succeeded: refreshes resume. Deduplicated as the opening is. */
export function upstreamHealthyNotice(info: UpstreamHealthy, recipients: readonly string[], from: string): NewMessage {
  const seconds = Math.max(0, Math.round((info.at - info.openedAt) / 1000));
  const [since, at] = [new Date(info.openedAt).toISOString(), new Date(info.at).toISOString()];
  return {
    kind: 'upstream-healthy',
    recipients,
    subject: headerText(`[freshen] The upstream ${info.origin} answers again (held off for ${seconds} s)`),
    text: `A probe of ${info.origin} succeeded: freshen asks it again, and stale entries are refreshed
as they are read.

Upstream:     ${info.origin}
Held off:     ${since} to ${at} (${seconds} s)
Probe sent by: ${info.node}

You get this message once per upstream within the cool-down, however many nodes saw it.
`,
    html: `<div style="${HTML_STYLE}">
<p>A probe of <strong>${escapeHtml(info.origin)}</strong> succeeded: freshen asks it again, and stale entries are refreshed as they are read.</p>
<table cellpadding="4"><tr><th align="left">Upstream</th><td>${escapeHtml(info.origin)}</td></tr>
<tr><th align="left">Held off</th><td>${escapeHtml(since)} to ${escapeHtml(at)} (${seconds} s)</td></tr>
<tr><th align="left">Probe sent by</th><td>${escapeHtml(info.node)}</td></tr></table>
<p style="color:#666">You get this message once per upstream within the cool-down, however many nodes saw it.</p>
</div>`,
    dedupeKey: `upstream-healthy:${fingerprint([info.origin])}`,
    messageId: messageId(from),
  };
}
