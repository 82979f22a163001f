// The baselines the hit path is measured against, each a process of its own
// answering one constant JSON body: `koa` (Koa + @koa/router, as freshen) and
// `node` (plain node:http, the ceiling for Node). Prints `READY <url>`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { Router } from '@koa/router';

const [kind, bodyText] = process.argv.slice(2) as [string, string];
const body = Buffer.from(bodyText);

let handler: Parameters<typeof createServer>[1];
if (kind === 'koa') {
  const app = new Koa();
  const router = new Router();
  router.get('/entries/:id', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = body;
  });
  app.use(router.routes());
  handler = app.callback();
} else {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  };
}
const server = createServer(handler);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`READY http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
