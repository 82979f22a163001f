// Standalone entry for the demo upstream: `node dist/demo/main.js`.
// Reads its own DEMO_* variables (it is not part of the service's config):
//   DEMO_PORT (3001), DEMO_LATENCY_MS (0), DEMO_JITTER_MS (0),
//   DEMO_FAILURE_RATE (0), DEMO_LOG (0; 1 logs one line per request).
// A bad value prints one line naming the variable and exits with code 2.
import { invalidDemoIds } from './data.js';
import { startDemoUpstream } from './server.js';

function fail(line: string): never {
  process.stderr.write(`${line}\n`);
  process.exit(2);
}

function envNumber(name: string, fallback: number, ok: (v: number) => boolean, allowed: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !ok(value)) fail(`${name} must be ${allowed} (got ${JSON.stringify(raw)})`);
  return value;
}

const port = envNumber('DEMO_PORT', 3001, (v) => Number.isInteger(v) && v >= 0 && v <= 65535, 'an integer from 0 to 65535');
const latencyMs = envNumber('DEMO_LATENCY_MS', 0, (v) => v >= 0 && v <= 600_000, 'a number of milliseconds from 0 to 600000');
const jitterMs = envNumber('DEMO_JITTER_MS', 0, (v) => v >= 0 && v <= 600_000, 'a number of milliseconds from 0 to 600000');
const failureRate = envNumber('DEMO_FAILURE_RATE', 0, (v) => v >= 0 && v <= 1, 'a number from 0 to 1');
const logRequests = envNumber('DEMO_LOG', 0, (v) => v === 0 || v === 1, '0 or 1') === 1;

const upstream = await startDemoUpstream({
  port,
  latencyMs,
  jitterMs,
  failureRate,
  ...(logRequests ? { log: (line: string) => process.stdout.write(`${line}\n`) } : {}),
}).catch((err: unknown) => {
  process.stderr.write(`demo upstream could not start on port ${port}: ${(err as Error).message}\n`);
  process.exit(1);
});

const broken = invalidDemoIds()[0]!;
process.stdout.write(
  [
    `freshen demo upstream: ${upstream.url}`,
    `  latency ${latencyMs} ms + jitter 0..${jitterMs} ms, failure rate ${failureRate}`,
    `  curl -s ${upstream.origin}/entries/e0001`,
    `  curl -s ${upstream.origin}/entries/${broken}    # fails the schema`,
    `  curl -s ${upstream.origin}/                 # index: ids, knobs`,
    `  UPSTREAM_URL='${upstream.url}' npm start`,
    '',
  ].join('\n'),
);

// First signal closes cleanly; `once` leaves a second one to the default (exit now).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    upstream.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`demo upstream close failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  });
}
