// The load generator, a process of its own: autocannon against one server,
// each request to a path picked at random. Prints `RESULT {json}`.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { LoadOptions, LoadResult } from './lib.js';

const options = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as LoadOptions;
const pick = () => options.paths[Math.floor(Math.random() * options.paths.length)] as string;

const result = await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.seconds,
  ...(options.rate ? { overallRate: options.rate } : {}),
  requests: [
    {
      method: options.method ?? 'GET',
      headers: options.headers ?? {},
      setupRequest: (request) => ({ ...request, path: pick() }),
    },
  ],
});
const summary: LoadResult = {
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  requests: result.requests.total,
  errors: result.errors + result.timeouts,
  non2xx: result.non2xx,
};
process.stdout.write(`RESULT ${JSON.stringify(summary)}\n`);
