// One bounded GET of one upstream record: time-limited, size-limited (the
// download is aborted past the cap, not buffered first), never redirected.
import type { FreshnessHeaders } from './cache-control.js';
import type { FailureCode, Validators } from './protocol.js';

export type Fetched =
  | { ok: true; status: number; body: Buffer; retryAfterMs?: number; headers: AnswerHeaders }
  | { ok: false; code: FailureCode; message: string; status?: number };

/** What a refresh keeps of the upstream's answer headers: its validators and its freshness. */
export type AnswerHeaders = FreshnessHeaders & Validators;

/** Fill the template's `{id}`; refuses any URL that would leave the template's origin. */
export function upstreamUrl(template: string, id: string): string {
  const url = template.replaceAll('{id}', encodeURIComponent(id));
  const expected = new URL(template.replaceAll('{id}', 'x')).origin;
  if (new URL(url).origin !== expected) throw new Error('the id would change the upstream host');
  return url;
}

const STALE_SOCKET = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/**
 * The URL fetch() accepts and the headers to send: fetch refuses a URL with
 * credentials in it, so user:password@ becomes an Authorization header.
 */
function request(url: string): { url: string; headers: Record<string, string> } {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (!url.includes('@')) return { url, headers };
  const parsed = new URL(url);
  if (parsed.username === '' && parsed.password === '') return { url, headers };
  const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
  headers.authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.toString(), headers };
}

export async function fetchUpstream(target: string, timeoutMs: number, maxBytes: number, validators?: Validators): Promise<Fetched> {
  const { url, headers } = request(target);
  // A conditional request: a 304 answer keeps the stored record.
  if (validators?.etag) headers['if-none-match'] = validators.etag;
  if (validators?.lastModified) headers['if-modified-since'] = validators.lastModified;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    let res: Response | undefined;
    for (let attempt = 1; res === undefined; attempt++) {
      try {
        res = await fetch(url, {
          signal: controller.signal,
          redirect: 'manual',
          headers,
        });
      } catch (err) {
        if (timedOut) return timeout(timeoutMs);
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        // A kept-alive connection the upstream closed just as it was reused:
        // nothing was answered, so one more try on a new connection is safe (a GET).
        if (attempt === 1 && STALE_SOCKET.has(cause?.code ?? '')) continue;
        return { ok: false, code: 'unreachable', message: `upstream unreachable (${cause?.code ?? cause?.message ?? 'network error'})` };
      }
    }
    const kept = answerHeaders(res.headers);
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      const retryAfterMs = retryAfter(res.headers.get('retry-after'));
      return { ok: true, status: res.status, body: Buffer.alloc(0), headers: kept, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      return tooLarge(maxBytes);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res.body ?? []) {
        total += (chunk as Uint8Array).byteLength;
        // Leaving the loop cancels the body: the rest is never downloaded.
        if (total > maxBytes) break;
        chunks.push(Buffer.from(chunk as Uint8Array));
      }
    } catch (err) {
      if (timedOut) return timeout(timeoutMs);
      return { ok: false, code: 'unreachable', message: `upstream answer broke off (${(err as Error).message})` };
    }
    if (total > maxBytes) return tooLarge(maxBytes);
    return { ok: true, status: 200, body: Buffer.concat(chunks, total), headers: kept };
  } finally {
    clearTimeout(timer);
  }
}

function answerHeaders(h: Headers): AnswerHeaders {
  return {
    cacheControl: h.get('cache-control'),
    expires: h.get('expires'),
    date: h.get('date'),
    age: h.get('age'),
    // Kept to be sent back as they came; bounded, as they go into a column.
    etag: bounded(h.get('etag')),
    lastModified: bounded(h.get('last-modified')),
  };
}

function bounded(value: string | null): string | null {
  return value !== null && value.length <= 1024 ? value : null;
}

/** A Retry-After value (seconds, or an HTTP date) as milliseconds from now; undefined if absent or unreadable. */
function retryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function timeout(ms: number): Fetched {
  return { ok: false, code: 'timeout', message: `upstream did not answer within ${ms} ms` };
}

function tooLarge(max: number): Fetched {
  return { ok: false, code: 'too-large', message: `upstream answer larger than ${max} bytes` };
}
