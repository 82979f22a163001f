// A bounded, seeded fuzz of the whole HTTP surface against a real service and
// a real loopback upstream: thousands of odd requests, and after each the
// answer must be on the contract (the OpenAPI document), carry no internals
// and be no 5xx but the documented kinds; after all of them the server still
// answers and its heap has not grown past a bound.
// FUZZ_SEED and FUZZ_COUNT repeat or widen a run; the seed is printed.
import { Agent } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { checkAnswer } from './support/contract.js';
import { requestMaker, seeded, send, type FuzzAnswer, type FuzzRequest, type Known } from './support/fuzz-requests.js';
import { startTestService, type TestService } from './support/service.js';
import { record, startTestUpstream, type TestUpstream } from './support/upstream.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201) >>> 0;
const COUNT = Number(process.env.FUZZ_COUNT ?? 2500);
const CONCURRENCY = 8;
const TOKEN = 'fuzz-admin-token-0123456789';

// The 5xx a client may get, each by its problem type: never a 500.
const DOCUMENTED_5XX: Record<number, RegExp> = {
  502: /^urn:freshen:problem:upstream-invalid$/,
  503: /^urn:freshen:problem:(upstream-unavailable|overloaded|shutting-down|database-unavailable)$/,
  504: /^urn:freshen:problem:upstream-timeout$/,
};

// What must never reach a client: stack frames, SQL, paths of this machine, driver words.
const INTERNALS =
  /\bat [\w.<>]+ \(|node:internal|\/(work|tmp|home|root|usr|etc)\/|\.(ts|js):\d+|\b(select|insert into|update)\b.+\b(from|values|set)\b|SQLITE_|sqlite3|knex|\bECONN|\bTypeError\b|\bReferenceError\b/gi;

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const heapMiB = (): number => process.memoryUsage().heapUsed / 2 ** 20;

describe('fuzzing the HTTP surface', function () {
  this.timeout(120_000);
  let upstream: TestUpstream;
  let service: TestService;
  const known: Known = { ids: [], etags: [], token: TOKEN };

  before(async () => {
    upstream = await startTestUpstream();
    // Every kind of upstream answer, on a few ids each; any other id is a 404.
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = `e${i}`;
      ids.push(id);
      upstream.set(id, { record: record(id, { related: ['e1', 'e2', 'bad id', `e${i + 1}`, 'r404', '../x'] }) });
    }
    const odd: Array<[string, Parameters<TestUpstream['set']>[1]]> = [
      ['invalid1', { record: { id: 'invalid1', title: 42 } }],
      ['notjson', { status: 200, body: '<html>not json' }],
      ['down1', { status: 503, body: 'busy', headers: { 'retry-after': '1' } }],
      ['fail500', { status: 500, body: 'Error: at Object.<anonymous> (/srv/app.js:1:1) SELECT * FROM secrets' }],
      ['redirect1', { status: 302, headers: { location: 'http://127.0.0.1:1/' } }],
      ['slow1', { record: record('slow1'), delayMs: 600 }],
      ['huge1', { status: 200, body: JSON.stringify(record('huge1', { body: 'h'.repeat(200_000) })) }],
      ['teapot', { status: 418, body: '{}' }],
    ];
    for (const [id, behaviour] of odd) {
      ids.push(id);
      upstream.set(id, behaviour);
    }
    known.ids = ids;
    service = await startTestService(upstream.url, {
      env: {
        ADMIN_TOKEN: TOKEN,
        UPSTREAM_TIMEOUT_MS: '300',
        UPDATER_TASK_TIMEOUT_MS: '1000',
        UPSTREAM_MAX_BYTES: '65536',
        // A small memory tier, so its bound is reached within the run and growth past it shows.
        MEMORY_TIER_MAX_BYTES: String(256 * 1024),
        ENTRY_TTL_SECONDS: '2',
      },
    });
  });

  after(async () => {
    await service?.stop();
    await upstream?.close();
  });

  it('answers every request on the contract, with no internals, no undocumented 5xx, no crash and a stable heap', async () => {
    console.log(`      fuzz: seed ${SEED}, ${COUNT} requests (FUZZ_SEED=${SEED} FUZZ_COUNT=${COUNT} repeats this run)`);
    const next = requestMaker(seeded(SEED), known);
    const origin = new URL(service.url);
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const started = performance.now();
    let sent = 0;
    let warmHeap = 0;
    let peakRss = 0;

    const judge = async (n: number, req: FuzzRequest, answer: FuzzAnswer | Error): Promise<void> => {
      const what = `#${n} ${req.method} ${req.path.slice(0, 120)}${req.path.length > 120 ? '…' : ''} ${JSON.stringify(req.headers).slice(0, 160)}`;
      if (answer instanceof Error) {
        // Only a request refused outright may lose its connection instead of getting an answer.
        if (!req.raw && !req.headers['x-big']) failures.push(`${what}: ${answer.message}`);
        return;
      }
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const etag = answer.headers.etag;
      if (etag && known.etags.length < 50 && !known.etags.includes(etag)) known.etags.push(etag);
      const text = answer.body.toString('utf8');
      if (answer.status >= 500) {
        const type = /"type":"([^"]*)"/.exec(text)?.[1] ?? '';
        const html = (answer.headers['content-type'] ?? '').startsWith('text/html');
        const expected = DOCUMENTED_5XX[answer.status];
        // A HEAD answer has no body to name its type: its status must be one of the kinds.
        const named = html || (req.method === 'HEAD' && answer.body.length === 0) || expected?.test(type);
        if (!expected || !named) failures.push(`${what}: ${answer.status} ${text.slice(0, 200)}`);
      }
      // The operator's own pages show settings and refresh errors on purpose.
      const operator = answer.status === 200 && /^\/admin/i.test(req.path);
      // Words the request itself sent (a problem's `instance`, an id quoted back) are no leak.
      const asked = `${req.path} ${safeDecode(req.path)} ${Object.values(req.headers).join(' ')}`;
      const leak = operator ? undefined : [...text.matchAll(INTERNALS)].find((m) => !asked.includes(m[0]));
      if (leak) failures.push(`${what}: the answer shows ${JSON.stringify(leak[0])}: ${text.slice(0, 200)}`);
      try {
        await checkAnswer({ method: req.method, path: req.path, status: answer.status, headers: answer.headers, body: answer.body });
      } catch (err) {
        failures.push(`${what}: ${(err as Error).message}`);
      }
    };

    const worker = async (): Promise<void> => {
      while (sent < COUNT && failures.length < 25) {
        const n = sent++;
        const req = next();
        await judge(n, req, await send(origin, agent, req, 10_000));
        if (n === Math.floor(COUNT / 10)) {
          gc();
          warmHeap = heapMiB();
        }
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();

    const seconds = (performance.now() - started) / 1000;
    gc();
    const endHeap = heapMiB();
    const byStatus = [...statuses.entries()].toSorted(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ');
    console.log(`      fuzz: ${sent} requests in ${seconds.toFixed(1)} s; ${byStatus}`);
    console.log(
      `      fuzz: heap ${warmHeap.toFixed(1)} MiB after warm-up, ${endHeap.toFixed(1)} MiB at the end; peak rss ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
    expect(failures, `seed ${SEED}:\n${failures.slice(0, 10).join('\n\n')}`).to.deep.equal([]);

    const health = await service.get('/healthz');
    expect(health.status).to.equal(200);
    // The memory tier and every cache are bounded: what a few thousand more requests add is small.
    expect(endHeap - warmHeap, 'heap growth in MiB').to.be.below(24);
  });
});
