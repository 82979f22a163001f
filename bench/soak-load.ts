// The soak's load, a process of its own: one autocannon instance per kind of
// request (bench/soak-mix.ts), all at once against one server, each answer
// judged as it comes. Prints `PROGRESS {json}` every 2 s and `RESULT {json}`.
import autocannon from 'autocannon';
import { KINDS, pathFor, type Kind, type KindResult, type LoadProgress } from './soak-mix.js';

const [url, secondsArg] = process.argv.slice(2) as [string, string];
const seconds = Number(secondsArg);
const started = performance.now();

interface Tally {
  statuses: Record<string, number>;
  cacheStatus: Record<string, number>;
  itemErrors: number;
  errors: number;
  ids: Set<string> | undefined;
}
const tallies = new Map<string, Tally>();

function run(kind: Kind): Promise<KindResult> {
  const tally: Tally = { statuses: {}, cacheStatus: {}, itemErrors: 0, errors: 0, ids: kind.name === 'invalid' ? new Set() : undefined };
  tallies.set(kind.name, tally);
  const listLike = kind.name === 'list' || kind.name === 'related';
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: kind.connections,
        duration: seconds,
        // Past the server's own bound on a wait (UPDATER_TASK_TIMEOUT_MS, 10 s): an answer that never comes.
        timeout: 20,
        ...(kind.rate ? { overallRate: kind.rate } : {}),
        requests: [
          {
            method: 'GET',
            setupRequest: (request) => {
              const path = pathFor(kind.name, performance.now() - started);
              tally.ids?.add(path);
              return { ...request, path };
            },
            onResponse: (status, body, _context, headers) => {
              tally.statuses[status] = (tally.statuses[status] ?? 0) + 1;
              if (listLike) {
                // Every item is a stored hot entry: none may come back as an error.
                if (status === 200 && !body.endsWith('"errors":[]}')) {
                  tally.itemErrors += (JSON.parse(body) as { errors: unknown[] }).errors.length;
                }
                return;
              }
              // autocannon keeps the header names as the server spelled them.
              const h = headers as Record<string, string | undefined>;
              const cs = h['cache-status'] ?? h['Cache-Status'];
              const outcome = cs === undefined ? 'none' : cs.includes('collapsed') ? 'collapsed' : (/fwd=(\w+)/.exec(cs)?.[1] ?? (/;\s*hit/.test(cs) ? 'hit' : cs));
              tally.cacheStatus[outcome] = (tally.cacheStatus[outcome] ?? 0) + 1;
            },
          },
        ],
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        resolve({
          requests: result.requests.total,
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          max: result.latency.max,
          statuses: tally.statuses,
          errors: result.errors,
          timeouts: result.timeouts,
          itemErrors: tally.itemErrors,
          cacheStatus: tally.cacheStatus,
          ...(tally.ids ? { distinctIds: tally.ids.size } : {}),
        });
      },
    );
    instance.on('reqError', () => void tally.errors++);
  });
}

const progress = setInterval(() => {
  const kinds: LoadProgress['kinds'] = {};
  for (const kind of KINDS) {
    const t = tallies.get(kind.name);
    if (!t) continue;
    const answered = Object.values(t.statuses).reduce((a, b) => a + b, 0);
    let failed = t.errors + t.itemErrors;
    for (const [status, n] of Object.entries(t.statuses)) if (!kind.allowed.includes(Number(status))) failed += n;
    kinds[kind.name] = { requests: answered, failed };
  }
  const line: LoadProgress = { seconds: Math.round((performance.now() - started) / 1000), kinds };
  process.stdout.write(`PROGRESS ${JSON.stringify(line)}\n`);
}, 2000);

const results = await Promise.all(KINDS.map(run));
clearInterval(progress);
process.stdout.write(`RESULT ${JSON.stringify(Object.fromEntries(KINDS.map((k, i) => [k.name, results[i]])))}\n`);
