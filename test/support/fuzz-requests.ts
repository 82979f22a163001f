// Random requests for the fuzz test, drawn from a seeded generator so a run
// can be repeated: methods, paths (traversal, encoded bytes, overlong), ids,
// query strings, headers (Accept, If-None-Match, Authorization, oversized),
// bodies and content-encodings — and a few raw requests Node's parser refuses.
import { request, type Agent } from 'node:http';
import { connect } from 'node:net';

export interface FuzzRequest {
  method: string;
  /** The request target as sent (never normalised: `..` stays). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** Bytes written to a socket as they are, in place of a request made by node:http. */
  raw?: Buffer;
}

export interface FuzzAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The demo's seeded generator: small, fast and the same on every machine. */
export { mulberry32 as seeded } from '../../demo/data.js';

/** Characters a request target cannot carry as they are, percent-encoded. */
const urlSafe = (s: string): string => s.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c)).replace(/#/g, '%23');

export interface Known {
  /** Ids the upstream knows, each with its own behaviour. */
  ids: readonly string[];
  /** ETags seen in earlier answers, for If-None-Match. */
  etags: string[];
  token: string;
}

export function requestMaker(random: () => number, known: Known): () => FuzzRequest {
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)] as T;
  const chance = (p: number): boolean => random() < p;
  const junk = (n: number, alphabet = 'abcXYZ019_-.~!$&\'()*+,;=:@%/?#[]"<>\\^`{|} '): string =>
    Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('');
  const byteEscapes = (n: number): string => Array.from({ length: n }, () => `%${int(256).toString(16).padStart(2, '0').toUpperCase()}`).join('');

  const id = (): string =>
    pick([
      () => pick(known.ids),
      () => pick(known.ids),
      () => `r${int(100000)}`,
      () => 'x'.repeat(128),
      () => 'x'.repeat(129),
      () => 'y'.repeat(5000),
      () => byteEscapes(1 + int(6)),
      () => pick(['%E0%A4%A', '%zz', '%', '%%', '%u0041', '%C0%AF', '%00', '%2F', '%2e%2e', '..', '.', 'index', 'a%20b', '%F0%9F%98%80']),
      () => urlSafe(junk(1 + int(20))),
      () => encodeURIComponent(String.fromCodePoint(...Array.from({ length: 1 + int(5) }, () => 0x80 + int(0xffff - 0x80)).filter((c) => c < 0xd800 || c > 0xdfff))),
    ])();

  const query = (): string =>
    pick([
      () => '',
      () => `?ids=${Array.from({ length: 1 + int(8) }, id).join(',')}`,
      () => `?ids=${Array.from({ length: 101 + int(50) }, (_, i) => `q${i}`).join(',')}`,
      () => `?${Array.from({ length: 1 + int(6) }, () => `ids=${id()}`).join('&')}`,
      () => `?ids=${'a,'.repeat(2000 + int(4000))}`,
      () => pick(['?ids=', '?ids', '?ids=,,,', '?ids=%', '?ids=%E0%A4%A', '?ids[]=a', '?ids[a]=b', '?=&&=', '?ids=a&ids[]=b', '?%zz=%zz']),
      () => `?${urlSafe(junk(1 + int(60)))}`,
      () => `?x=${'z'.repeat(8000 + int(8000))}`,
    ])();

  const path = (): string =>
    pick([
      () => `/entries/${id()}`,
      () => `/entries/${id()}`,
      () => `/entries/${id()}`,
      () => `/entries${query()}`,
      () => `/entries${query()}`,
      () => `/entries/${id()}/related`,
      () => `/entries/${id()}/refresh`,
      () => `/pages/${id()}.html`,
      () => pick(['/pages/', '/pages', '/pages/index.html', '/pages/.html', '/pages/..%2f..%2fpackage.json', '/pages/../../etc/passwd']),
      () => pick(['/pages/%2e%2e%2f%2e%2e%2fetc%2fpasswd.html', '/pages/....//....//etc/passwd', '/pages/%252e%252e%252f.html', '/pages/e1.html%00.txt']),
      () => pick(['/', '/healthz', '/readyz', '/metrics', '/openapi.json', '/admin', '/admin/outbox', '/admin/', '/HEALTHZ', '/healthz/']),
      () => pick(['//', '/./entries/e1', '/entries/e1/', '/entries//related', '/ENTRIES/E1', '/entries/e1/related/', '/entries/e1/x']),
      () => `/${Array.from({ length: 1 + int(5) }, () => urlSafe(junk(1 + int(12))).replace(/[?]/g, '%3F')).join('/')}`,
      () => `/${'a/'.repeat(1000 + int(3000))}`,
      () => `/entries/${'%41'.repeat(3000 + int(3000))}`,
    ])() + (chance(0.15) ? query() : '');

  const headers = (): Record<string, string> => {
    const h: Record<string, string> = {};
    if (chance(0.6)) {
      h.accept = pick([
        'text/html',
        'application/json',
        '*/*',
        'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
        'text/html;q=0.1, application/json',
        'application/problem+json',
        'image/png',
        ';;;,,,q=abc',
        'text/*;q=2',
        junk(40),
        '',
      ]);
    }
    if (chance(0.25)) {
      h['if-none-match'] = pick([
        '*',
        '"junk"',
        'W/"x"',
        junk(30),
        known.etags.length > 0 ? pick(known.etags) : '"none"',
        known.etags.length > 0 ? pick(known.etags) : '"none"',
        `${known.etags.slice(0, 3).join(', ')}, "x"`,
        '"'.repeat(50),
      ]);
    }
    if (chance(0.1)) h['if-modified-since'] = pick(['Thu, 01 Jan 2099 00:00:00 GMT', 'yesterday', '0', junk(20)]);
    if (chance(0.25)) {
      h.authorization = pick([
        `Bearer ${known.token}`,
        `Bearer ${known.token}`,
        'Bearer',
        'Bearer ',
        `Bearer ${junk(20)}`,
        `bearer ${known.token} extra`,
        `Basic ${Buffer.from(`anyone:${known.token}`).toString('base64')}`,
        'Basic !!!',
        `Basic ${Buffer.from(junk(10)).toString('base64')}`,
        `Basic ${Buffer.from('no-colon').toString('base64')}`,
        junk(60),
        `Bearer ${'t'.repeat(6000)}`,
      ]);
    }
    if (chance(0.1)) h['x-request-id'] = pick(['abc', junk(200), '../../etc', '']);
    if (chance(0.05)) h.range = pick(['bytes=0-10', 'bytes=-1', 'junk']);
    if (chance(0.05)) h.cookie = junk(100);
    // Past Node's 16 KiB of headers: refused with 431 before the app sees it.
    if (chance(0.03)) h['x-big'] = 'b'.repeat(17_000 + int(20_000));
    return h;
  };

  const raw = (): FuzzRequest => {
    const target = pick(['/entries/e1', '/healthz', '/entries/\xff\xfe', '/entries/a b']);
    const lines = pick([
      () => [`FOO ${target} HTTP/1.1`, 'Host: x'],
      () => [`GET ${target} HTTP/1.1`, 'Host: x', 'Content-Length: abc'],
      () => [`GET ${target} HTTP/1.1`, 'Host: x', 'Content-Length: 3', 'Transfer-Encoding: chunked'],
      () => [`GET ${target} HTTP/1.1`, 'Host: x', 'No colon here'],
      () => [`GET ${target} HTTP/1.1`, 'Host: x', 'X-Nul: a\0b'],
      () => [`GET ${target} HTTP/9.9`, 'Host: x'],
      () => [`GET ${target}`],
      () => [`GET ${target} HTTP/1.0`],
      () => [`GET /${'p'.repeat(20_000)} HTTP/1.1`, 'Host: x'],
    ])();
    const bytes = Buffer.from(`${[...lines, 'Connection: close'].join('\r\n')}\r\n\r\n`, 'latin1');
    return { method: (lines[0] as string).split(' ')[0] as string, path: target, headers: {}, raw: bytes };
  };

  return () => {
    if (chance(0.03)) return raw();
    const method = pick(['GET', 'GET', 'GET', 'GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND']);
    const req: FuzzRequest = { method, path: path(), headers: headers() };
    if (method !== 'GET' && method !== 'HEAD' && chance(0.6)) {
      req.body = Buffer.from(Array.from({ length: int(chance(0.1) ? 200_000 : 2000) }, () => int(256)));
      req.headers['content-type'] = pick(['application/json', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', junk(20)]);
      if (chance(0.5)) req.headers['content-encoding'] = pick(['gzip', 'br', 'deflate', 'identity', 'gzip, gzip', 'zstd', junk(10)]);
    }
    return req;
  };
}

/** Sends one request; a socket error is returned, not thrown, for the caller to judge. */
export function send(origin: URL, agent: Agent, req: FuzzRequest, timeoutMs: number): Promise<FuzzAnswer | Error> {
  return req.raw ? sendRaw(origin, req.raw, timeoutMs) : sendHttp(origin, agent, req, timeoutMs);
}

function sendHttp(origin: URL, agent: Agent, req: FuzzRequest, timeoutMs: number): Promise<FuzzAnswer | Error> {
  return new Promise((resolve) => {
    const r = request({ host: origin.hostname, port: origin.port, agent, method: req.method, path: req.path, headers: req.headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
      });
      res.on('error', resolve);
    });
    r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on('error', resolve);
    r.end(req.body);
  });
}

/** A raw exchange on a connection of its own, read to its end (the request says Connection: close). */
function sendRaw(origin: URL, bytes: Buffer, timeoutMs: number): Promise<FuzzAnswer | Error> {
  return new Promise((resolve) => {
    const socket = connect(Number(origin.port), origin.hostname);
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', resolve);
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      if (split === -1) return resolve(new Error(`not an HTTP answer: ${JSON.stringify(all.subarray(0, 80).toString('latin1'))}`));
      const [statusLine = '', ...headerLines] = all.subarray(0, split).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: all.subarray(split + 4) });
    });
    socket.end(bytes);
  });
}
