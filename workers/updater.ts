// The pool's task module, run off the main thread (a Piscina worker, or a
// child process). A refresh fetches one upstream record, parses, validates it
// against the JSON Schema and hashes it; it returns a plain result and touches
// no SQL and no mail. Publishing tasks (pages, their check, the index) are
// publish-tasks.ts's.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { isMainThread, parentPort, threadId } from 'node:worker_threads';
import type { ValidateFunction } from 'ajv';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { prepareBody } from '../shared/answer-body.js';
import { MAX_IDS } from '../shared/entry-id.js';
import type { RefreshResult, RefreshTask, Task, TaskResult, TaskStarted } from './protocol.js';
import { checkPages, indexShard, indexTop, publish } from './publish-tasks.js';
import { compileSchema, describeProblems } from './schema.js';
import { upstreamFreshness } from './cache-control.js';
import { parseTags } from '../shared/tags.js';
import { upstreamUrl } from '../shared/upstream.js';
import { fetchUpstream } from './upstream.js';

// A child process of the pool: a terminal's Ctrl-C reaches the whole process
// group, but the server decides when its pool stops.
if (isMainThread && process.send !== undefined) process.on('SIGINT', () => undefined);

// Compiled once per worker and schema file.
const schemaValidators = new Map<string, ValidateFunction>();

function validatorFor(path: string): ValidateFunction {
  let validate = schemaValidators.get(path);
  if (!validate) {
    validate = compileSchema(JSON.parse(readFileSync(path, 'utf8')));
    schemaValidators.set(path, validate);
  }
  return validate;
}

/** Tell the pool which worker took the task (for its watchdog and wait times). */
export function reportStart(key: number): void {
  const at = performance.timeOrigin + performance.now();
  if (!isMainThread) {
    parentPort?.postMessage({ freshenTaskStarted: true, key, worker: threadId, at } satisfies TaskStarted);
  } else if (process.send) {
    process.send({ freshenTaskStarted: true, key, worker: process.pid, at } satisfies TaskStarted);
  }
}

let niceness = 0;

/**
 * Refresh work yields the CPU to the thread answering requests. On Linux a nice
 * value belongs to one thread, so this lowers only the worker's own threads,
 * never the server's.
 */
function lowerPriority(nice: number): void {
  if (nice === niceness) return;
  niceness = nice;
  // A child process lowers every thread it has (V8's garbage collector runs on
  // helpers of its own); a worker thread shares those helpers with the server.
  const threads = isMainThread && process.send !== undefined ? ownThreads() : [0];
  for (const tid of threads) {
    try {
      setPriority(tid, nice);
    } catch {
      // Not permitted here (a container may forbid it): run at the inherited priority.
    }
  }
}

function ownThreads(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number);
  } catch {
    return [0]; // not Linux: this thread only
  }
}

/** Every task's first step: yield the CPU to the server, and tell the pool it started. */
export function beginTask(task: Pick<Task, 'trackKey' | 'nice'>): void {
  if (task.nice !== undefined) lowerPriority(task.nice);
  if (task.trackKey !== undefined) reportStart(task.trackKey);
}

export default function run(task: Task): Promise<TaskResult> {
  beginTask(task);
  // Its caller gave up while it waited in the queue: no upstream request, no page, for nobody.
  if (task.deadline !== undefined && Date.now() > task.deadline) {
    return Promise.resolve({ kind: 'failed', id: task.id, code: 'pool-timeout', message: `${task.kind} not started: its caller gave up waiting (UPDATER_TASK_TIMEOUT_MS)` });
  }
  switch (task.kind) {
    case 'refresh':
      return refresh(task);
    case 'publish':
      return publish(task);
    case 'check-pages':
      return checkPages(task);
    case 'index-shard':
      return indexShard(task);
    case 'index-top':
      return indexTop(task);
  }
}

async function refresh(task: RefreshTask): Promise<RefreshResult> {
  const { id } = task;
  let url: string;
  try {
    url = upstreamUrl(task.upstreamUrl, id);
  } catch (err) {
    return { kind: 'failed', id, code: 'worker-error', message: (err as Error).message };
  }
  const fetched = await fetchUpstream(url, task.timeoutMs, task.maxBytes, task.validators);
  if (!fetched.ok) return { kind: 'failed', id, code: fetched.code, message: fetched.message };

  const { status, headers } = fetched;
  const validators = { etag: headers.etag, lastModified: headers.lastModified };
  const freshness = upstreamFreshness(headers, task.cacheControl);
  // Only an answer to a conditional request may say "not modified".
  if (status === 304 && task.validators) {
    // A 304 updates only what it carries: without Cache-Control or Expires, the stored freshness stands.
    const said = headers.cacheControl !== null || headers.expires !== null;
    return { kind: 'not-modified', id, validators, freshness: said ? freshness : null, tags: parseTags(headers.surrogateKey, headers.cacheTag) };
  }
  if (status === 404 || status === 410) return { kind: 'not-found', id };
  if (status === 304) {
    return { kind: 'failed', id, code: 'bad-status', status, message: 'upstream answered 304 to a request that was not conditional' };
  }
  if (status >= 300 && status < 400) {
    return { kind: 'failed', id, code: 'redirect', status, message: `upstream redirected (${status}); redirects are not followed` };
  }
  if (status === 429 || status >= 500) {
    const wait = fetched.retryAfterMs === undefined ? {} : { retryAfterMs: fetched.retryAfterMs };
    return { kind: 'failed', id, code: 'unavailable', status, message: `upstream answered ${status}`, ...wait };
  }
  if (status !== 200) {
    return { kind: 'failed', id, code: 'bad-status', status, message: `upstream answered ${status}` };
  }

  let data: unknown;
  try {
    const text = fetched.body.toString('utf8');
    // A byte-order mark is allowed before JSON text (RFC 8259 §8.1), not by JSON.parse.
    data = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return { kind: 'failed', id, code: 'not-json', message: 'upstream answer is not JSON' };
  }
  // Checked before anything walks the record recursively (the schema check,
  // JSON.stringify, structured clone, the page): 100k nested arrays parse, but
  // overflow the stack of each of those.
  if (nestedDeeperThan(data, MAX_DEPTH)) {
    return { kind: 'invalid', id, url, problems: [`the record is nested more than ${MAX_DEPTH} levels deep`] };
  }
  const validate = validatorFor(task.schemaPath);
  if (!validate(data)) {
    const title = (data as { title?: unknown } | null)?.title;
    return {
      kind: 'invalid',
      id,
      url,
      problems: describeProblems(validate.errors),
      ...(typeof title === 'string' ? { title: title.slice(0, 500) } : {}),
    };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { kind: 'invalid', id, url, problems: ['the record is not a JSON object'] };
  }

  const record = JSON.stringify(data);
  const hash = createHash('sha256').update(record).digest('base64url');
  const { body, recordStart, recordEnd } = prepareBody(id, record);
  const fields = data as Record<string, unknown>;
  // Kept bounded (a record may name any number): the first MAX_IDS, each once, as /related answers.
  const related = Array.isArray(fields.related)
    ? [...new Set(fields.related.filter((x): x is string => typeof x === 'string'))].slice(0, MAX_IDS)
    : [];
  const title = typeof fields.title === 'string' ? fields.title.slice(0, 500) : null;
  return movingBody({ kind: 'ok', id, body, recordStart, recordEnd, hash, related, title, bytes: fetched.body.length, validators, freshness, tags: parseTags(headers.surrogateKey, headers.cacheTag) ?? [] });
}

/**
 * On a worker thread the body is moved to the server, not copied (Piscina
 * sends a result marked movable with its transfer list). A child process's
 * result is serialized whatever it is.
 */
function movingBody(result: Extract<RefreshResult, { kind: 'ok' }>): RefreshResult {
  if (isMainThread) return result;
  return move({ [transferableSymbol]: [result.body.buffer], [valueSymbol]: result }) as unknown as RefreshResult;
}

/** The deepest nesting of arrays and objects a record may have. */
const MAX_DEPTH = 64;

/** Is `value` nested deeper than `max` levels? Walks with a stack of its own, not the call stack. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
  return false;
}
