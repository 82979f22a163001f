// The upstream of the revalidation benchmark, a process of its own: the demo's
// records, each with an ETag, a conditional GET whose If-None-Match names it
// answered 304; one entry in ten (revalidate-data.ts) gets a new version
// every second. No Cache-Control: freshen's ENTRY_TTL_SECONDS decides.
// Each freshen under test fetches under a path prefix of its own (its label),
// so what is sent is counted per label. Prints `READY <origin>`.
//
//   GET  /<label>/entries/<id>    the record, or 304
//   POST /<label>/honour/<0|1>    0: If-None-Match ignored, every answer a 200
//   POST /<label>/reset           counters back to zero
//   GET  /<label>/stats           its Counts (revalidate-data.ts)
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { demoRecordJson } from '../demo/data.js';
import { CHANGE_MS, changing, type Counts } from './revalidate-data.js';

interface Label {
  honour: boolean;
  counts: Counts;
  lastAsked: Map<string, number>;
}

const labels = new Map<string, Label>();
const fresh = (): Counts => ({ requests: 0, notModified: 0, ok: 0, bodyBytes: 0, wireBytes: 0, gapsMs: [] });
function label(name: string): Label {
  let l = labels.get(name);
  if (!l) {
    l = { honour: true, counts: fresh(), lastAsked: new Map() };
    labels.set(name, l);
  }
  return l;
}

// The current version of each changing entry, made once per version.
const versions = new Map<string, { version: number; json: string }>();
function current(id: string): { json: string; etag: string } | undefined {
  const base = demoRecordJson(id);
  if (base === undefined) return undefined;
  if (!changing(id)) return { json: base, etag: `"${id}-0"` };
  const version = Math.floor(Date.now() / CHANGE_MS);
  let v = versions.get(id);
  if (v?.version !== version) {
    const record = JSON.parse(base) as Record<string, unknown>;
    record.updatedAt = new Date(version * CHANGE_MS).toISOString();
    v = { version, json: JSON.stringify(record) };
    versions.set(id, v);
  }
  return { json: v.json, etag: `"${id}-${version}"` };
}

// Bytes already counted on each connection (kept alive across requests).
const counted = new WeakMap<Socket, number>();
function countWire(socket: Socket, res: ServerResponse, counts: Counts): void {
  // Taken now: by 'finish' the response has let go of its socket.
  res.once('finish', () => {
    counts.wireBytes += socket.bytesWritten - (counted.get(socket) ?? 0);
    counted.set(socket, socket.bytesWritten);
  });
}

const server = createServer((req, res) => {
  const m = /^\/([a-z0-9]+)\/(entries|honour|reset|stats)(?:\/([A-Za-z0-9_-]+))?$/.exec(req.url ?? '');
  if (!m) {
    res.writeHead(404).end();
    return;
  }
  const l = label(m[1] as string);
  const what = m[2] as string;
  if (what === 'honour') l.honour = m[3] === '1';
  if (what === 'reset') {
    l.counts = fresh();
    l.lastAsked.clear();
  }
  if (what !== 'entries') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(what === 'stats' ? JSON.stringify(l.counts) : '{}');
    return;
  }
  const id = m[3] ?? '';
  const c = l.counts;
  c.requests++;
  const now = performance.now();
  const last = l.lastAsked.get(id);
  if (last !== undefined) c.gapsMs.push(Math.round(now - last));
  l.lastAsked.set(id, now);
  countWire(req.socket, res, c);
  const entry = current(id);
  if (!entry) {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
    return;
  }
  if (l.honour && req.headers['if-none-match'] === entry.etag) {
    c.notModified++;
    res.writeHead(304, { etag: entry.etag }).end();
    return;
  }
  c.ok++;
  const body = Buffer.from(entry.json);
  c.bodyBytes += body.length;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, etag: entry.etag }).end(body);
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
