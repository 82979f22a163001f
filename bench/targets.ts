// The baselines the hit path is measured against, each a process of its own
// answering the same bodies as freshen, by id, from a Map: `koa` (Koa +
// @koa/router, as freshen's routes) and `node` (plain node:http, the ceiling
// for Node). The bodies come as a JSON file `{id: body}`. Prints `READY <url>`.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { Router } from '@koa/router';

const [kind, bodiesFile] = process.argv.slice(2) as [string, string];
const bodies = new Map(Object.entries(JSON.parse(readFileSync(bodiesFile, 'utf8')) as Record<string, string>).map(([id, text]) => [id, Buffer.from(text)]));
const PATH = /^\/entries\/([A-Za-z0-9_-]{1,128})$/;

let handler: Parameters<typeof createServer>[1];
if (kind === 'koa') {
  const app = new Koa();
  const router = new Router();
  router.get('/entries/:id', (ctx) => {
    const body = bodies.get(ctx.params.id as string);
    if (!body) return;
    ctx.type = 'application/json';
    ctx.body = body;
  });
  app.use(router.routes());
  handler = app.callback();
} else {
  handler = (req, res) => {
    const body = bodies.get(PATH.exec(req.url ?? '')?.[1] ?? '');
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  };
}
const server = createServer(handler);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
