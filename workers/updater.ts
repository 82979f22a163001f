// The refresh task, run off the main thread (a Piscina worker, or a child
// process): fetch one upstream record, parse, validate against the JSON
// Schema, hash. Returns a plain RefreshResult; it touches no SQL and no mail.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ValidateFunction } from 'ajv';
import type { RefreshResult, RefreshTask } from './protocol.js';
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

export default async function refresh(task: RefreshTask): Promise<RefreshResult> {
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
  const relatedField = (data as { related?: unknown }).related;
  const related = Array.isArray(relatedField) ? relatedField.filter((x): x is string => typeof x === 'string') : [];
  return { kind: 'ok', id, record, hash, related, bytes: fetched.body.length };
}
