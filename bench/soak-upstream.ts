// The soak's upstream, a process of its own: an id space without end, so a
// sustained load always has ids never read before. Prints `READY <url template>`.
//
//   hot-N, stale-N, miss-N   a valid record of about 1 KB; its updatedAt moves
//                            every 10 s, so refreshes store changed records
//   bad-N                    a record that fails the bundled schema (one of three ways)
//   anything else            404
// Each answer waits 2–10 ms, an upstream on the same machine.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HOT_IDS } from './soak-mix.js';

const WORDS = ['fresh', 'copy', 'stale', 'entry', 'upstream', 'worker', 'outbox', 'lease', 'page', 'record', 'schema', 'notice'];

function record(kind: string, n: number): Record<string, unknown> {
  const id = `${kind}-${n}`;
  const words = Array.from({ length: 140 }, (_, i) => WORDS[(n * 7 + i * 3) % WORDS.length]).join(' ');
  const epoch = Math.floor(Date.now() / 10_000);
  const rec: Record<string, unknown> = {
    id,
    title: `Entry ${id}`,
    body: `# Entry ${id}\n\n${words}.\n`,
    author: 'Soak Author',
    tags: ['soak', kind],
    updatedAt: new Date(epoch * 10_000).toISOString(),
    // Reads through a relation land on hot entries, stored from the start.
    related: [1, 2, 3].map((k) => `hot-${(n * 31 + k * 17) % HOT_IDS}`),
  };
  if (kind === 'bad') {
    if (n % 3 === 0) delete rec.title;
    else if (n % 3 === 1) rec.author = '';
    else rec.tags = ['soak', 'soak'];
  }
  return rec;
}

const server = createServer((req, res) => {
  const m = /^\/items\/(hot|stale|miss|bad)-(\d{1,12})$/.exec(req.url ?? '');
  const timer = setTimeout(() => {
    if (!m) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(record(m[1] as string, Number(m[2]))));
  }, 2 + Math.random() * 8);
  res.once('close', () => clearTimeout(timer));
});
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`READY http://127.0.0.1:${port}/items/{id}\n`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
