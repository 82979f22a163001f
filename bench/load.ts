// The load generator, a process of its own: autocannon against one server,
// each request to a path picked at random. It stays for the whole run and
// takes one job at a time over IPC (a job's options in, its summary out), so a
// measurement does not pay a Node start and autocannon's import each time
// (~0.3 s here); it ends when the benchmark's process goes.
import autocannon from 'autocannon';
import type { LoadOptions, LoadResult } from './lib.js';

async function run(options: LoadOptions): Promise<LoadResult> {
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
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

process.on('message', (options: LoadOptions) => {
  run(options).then(
    (summary) => process.send?.({ summary }),
    (err: unknown) => process.send?.({ error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
