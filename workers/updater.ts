// The pool's task module, run off the main thread (a Piscina worker, or a
// child process). A refresh fetches one upstream record, parses, validates it
// against the JSON Schema, hashes it and publishes its page; it returns a plain
// result and touches no SQL and no mail. Publish and index tasks (re)write pages.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, threadId } from 'node:worker_threads';
import type { ValidateFunction } from 'ajv';
import type { IndexTask, PublishResult, PublishTask, RefreshResult, RefreshTask, Task, TaskStarted } from './protocol.js';

const PONG: PublishResult = { kind: 'published', id: 'ping', bytes: 0 };
import { entryPageHtml, indexPageHtml, pageFileName, writeAtomically } from './publish.js';
import { compileSchema, describeProblems } from './schema.js';
import { fetchUpstream, upstreamUrl } from './upstream.js';

// Compiled once per worker and schema file.
const validators = new Map<string, ValidateFunction>();

function validatorFor(path: string): ValidateFunction {
  let validate = validators.get(path);
  if (!validate) {
    validate = compileSchema(JSON.parse(readFileSync(path, 'utf8')));
    validators.set(path, validate);
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

export default function run(task: Task): Promise<RefreshResult | PublishResult> {
  if (task.trackKey !== undefined) reportStart(task.trackKey);
  switch (task.kind) {
    case 'refresh':
      return refresh(task);
    case 'publish':
      return publish(task);
    case 'index':
      return publishIndex(task);
    case 'ping':
      return Promise.resolve(PONG);
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
  const fetched = await fetchUpstream(url, task.timeoutMs, task.maxBytes);
  if (!fetched.ok) return { kind: 'failed', id, code: fetched.code, message: fetched.message };

  const { status } = fetched;
  if (status === 404 || status === 410) return { kind: 'not-found', id };
  if (status >= 300 && status < 400) {
    return { kind: 'failed', id, code: 'redirect', status, message: `upstream redirected (${status}); redirects are not followed` };
  }
  if (status === 429 || status >= 500) {
    return { kind: 'failed', id, code: 'unavailable', status, message: `upstream answered ${status}` };
  }
  if (status !== 200) {
    return { kind: 'failed', id, code: 'bad-status', status, message: `upstream answered ${status}` };
  }

  let data: unknown;
  try {
    data = JSON.parse(fetched.body.toString('utf8'));
  } catch {
    return { kind: 'failed', id, code: 'not-json', message: 'upstream answer is not JSON' };
  }
  const validate = validatorFor(task.schemaPath);
  if (!validate(data)) {
    const title = (data as { title?: unknown } | null)?.title;
    return {
      kind: 'invalid',
      id,
      problems: describeProblems(validate.errors),
      ...(typeof title === 'string' ? { title: title.slice(0, 500) } : {}),
    };
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return { kind: 'invalid', id, problems: ['the record is not a JSON object'] };
  }

  const record = JSON.stringify(data);
  const hash = createHash('sha256').update(record).digest('base64url');
  const fields = data as Record<string, unknown>;
  const related = Array.isArray(fields.related) ? fields.related.filter((x): x is string => typeof x === 'string') : [];
  const title = typeof fields.title === 'string' ? fields.title.slice(0, 500) : null;
  const result: RefreshResult = { kind: 'ok', id, record, hash, related, title, bytes: fetched.body.length };
  // Written before answering: single flight then orders the page writes of an
  // entry, whichever worker runs them. (Writing after answering saved ~1 ms of
  // a miss, but let an older page land after a newer one from another worker.)
  try {
    await writeAtomically(task.publishDir, pageFileName(id), entryPageHtml(id, fields, Date.now()));
  } catch (err) {
    result.pageError = (err as Error).message;
  }
  return result;
}

async function publish(task: PublishTask): Promise<PublishResult> {
  try {
    const data = JSON.parse(task.record) as Record<string, unknown>;
    const bytes = await writeAtomically(task.publishDir, pageFileName(task.id), entryPageHtml(task.id, data, task.fetchedAt));
    return { kind: 'published', id: task.id, bytes };
  } catch (err) {
    return { kind: 'failed', id: task.id, code: 'write-error', message: (err as Error).message };
  }
}

async function publishIndex(task: IndexTask): Promise<PublishResult> {
  try {
    const bytes = await writeAtomically(task.publishDir, 'index.html', indexPageHtml(task.entries));
    return { kind: 'published', id: task.id, bytes };
  } catch (err) {
    return { kind: 'failed', id: task.id, code: 'write-error', message: (err as Error).message };
  }
}
