// Checks answers against the HTTP contract, the OpenAPI 3.1 document in
// server/http/openapi.ts. @hyperjump/json-schema does the schema work with
// OpenAPI 3.1's own dialect: the document is checked once against the
// official 3.1 schema, then each answer's body and headers against the
// schemas of the response the document gives for its path, method and status.
// `watchAnswers` makes every fetch() to a test service go through the check,
// so an answer off the contract fails the test that asked for it.
import { registerSchema, setShouldValidateFormat, validate, type OutputUnit, type Validator } from '@hyperjump/json-schema/openapi-3-1';
// oxlint-disable-next-line import/no-unassigned-import -- loaded for its effect: `format` (date-time…) is checked
import '@hyperjump/json-schema/formats-lite';
import { openapi } from '../../server/http/openapi.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const DOCUMENT_URI = 'https://freshen.test/openapi.json';
const doc = openapi as unknown as JsonObject;

export interface Answer {
  method: string;
  /** The request target: path and query, as sent. */
  path: string;
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Buffer;
}

export class ContractError extends Error {
  override name = 'ContractError';
}

let loaded: Promise<void> | undefined;
/** The document is valid OpenAPI 3.1 (its schemas included), then registered for checking answers. */
export function documentReady(): Promise<void> {
  loaded ??= (async () => {
    setShouldValidateFormat(true);
    const output = await validate('https://spec.openapis.org/oas/3.1/schema-base', doc as never, 'BASIC');
    if (!output.valid) throw new ContractError(`server/http/openapi.ts is not valid OpenAPI 3.1:\n${describe(output.errors, doc)}`);
    registerSchema(doc as never, DOCUMENT_URI, 'https://spec.openapis.org/oas/3.1/schema-base');
  })();
  return loaded;
}

const validators = new Map<string, Promise<Validator>>();
function validatorAt(pointer: string): Promise<Validator> {
  let v = validators.get(pointer);
  if (!v) validators.set(pointer, (v = validate(`${DOCUMENT_URI}#${pointer}`)));
  return v;
}

const escape = (segment: string): string => encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'));
const pointerOf = (...segments: string[]): string => segments.map((s) => `/${escape(s)}`).join('');

function at(pointer: string): Json | undefined {
  let node: Json | undefined = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = node !== null && typeof node === 'object' && !Array.isArray(node) ? node[key] : undefined;
  }
  return node;
}

/** Follows a Reference Object within the document: the object and where it is. */
function deref(pointer: string): { pointer: string; value: JsonObject } {
  let value = at(pointer) as JsonObject;
  while (typeof value.$ref === 'string') {
    pointer = value.$ref.slice(1);
    value = at(pointer) as JsonObject;
  }
  return { pointer, value };
}

const templates = Object.keys(openapi.paths).map((template) => ({
  template,
  // As @koa/router matches: a parameter is one non-empty segment, letter case aside.
  pattern: new RegExp(`^${template.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}$`, 'i'),
}));

/** The path template a request path falls under: as is, else without one trailing slash. */
function templateOf(path: string): string | undefined {
  const tries = [path];
  if (path.length > 1 && path.endsWith('/')) tries.push(path.slice(0, -1));
  for (const p of tries) {
    const found = templates.find((t) => t.pattern.test(p));
    if (found) return found.template;
  }
  return undefined;
}

/** Where the document lists the answers this request may get, in the order they are looked up. */
function responseLists(method: string, path: string): { what: string; lists: string[] } {
  const anyRequest = pointerOf('x-other-answers', 'anyRequest');
  const template = templateOf(path);
  if (template === undefined) return { what: 'a path the document does not list', lists: [pointerOf('x-other-answers', 'unlistedPath'), anyRequest] };
  const operation = pointerOf('paths', template, method.toLowerCase());
  if (at(operation) === undefined) {
    return { what: `${method} on ${template}, which the document does not list`, lists: [pointerOf('x-other-answers', 'unlistedMethod'), anyRequest] };
  }
  return { what: `${method} ${template}`, lists: [`${operation}/responses`, anyRequest] };
}

/** Every response the lists give for this status, most specific first. */
function responsesFor(lists: string[], status: number): string[] {
  return lists.flatMap((list) => {
    const responses = at(list) as JsonObject;
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k] !== undefined);
    return key === undefined ? [] : [`${list}/${escape(key)}`];
  });
}

/** Throws a ContractError naming every way the answer departs from the document. */
export async function checkAnswer(answer: Answer): Promise<void> {
  await documentReady();
  const { method, status } = answer;
  const { what, lists } = responseLists(method, answer.path.split('?')[0] as string);
  const candidates = responsesFor(lists, status);
  let problems: string[] | undefined;
  if (candidates.length === 0) {
    const known = [...new Set(lists.flatMap((l) => Object.keys(at(l) as JsonObject)))];
    problems = [`status ${status} is not an answer the document gives (it lists ${known.join(', ')})`];
  }
  // The answer must be one of them (a 400 from the route has a body; one from Node's parser has none).
  for (const candidate of candidates) {
    const found = await checkResponse(candidate, answer);
    if (found.length === 0) return;
    problems ??= found;
  }
  const { body } = answer;
  const shown = body.subarray(0, 400).toString('utf8');
  throw new ContractError(
    `${method} ${answer.path} → ${status} is off the contract (${what}):\n  - ${(problems ?? []).join('\n  - ')}\n  body: ${shown}${body.length > 400 ? '…' : ''}`,
  );
}

async function checkResponse(listed: string, { method, status, headers, body }: Answer): Promise<string[]> {
  const problems: string[] = [];
  const { pointer, value: response } = deref(listed);
  for (const name of Object.keys((response.headers ?? {}) as JsonObject)) {
    const header = deref(`${pointer}${pointerOf('headers', name)}`);
    const given = headers[name.toLowerCase()];
    if (given === undefined) {
      if (header.value.required === true) problems.push(`header ${name} is missing`);
      continue;
    }
    const output = (await validatorAt(`${header.pointer}/schema`))(given, 'BASIC');
    if (!output.valid) problems.push(`header ${name}: ${JSON.stringify(given)} does not match its schema`);
  }
  problems.push(...(await checkBody(pointer, response, method, status, headers['content-type'], body)));
  return problems;
}

async function checkBody(
  pointer: string,
  response: JsonObject,
  method: string,
  status: number,
  contentType: string | undefined,
  body: Buffer,
): Promise<string[]> {
  const content = response.content as JsonObject | undefined;
  if (content === undefined) return body.length === 0 ? [] : [`a ${status} has no body, but ${body.length} bytes came`];
  if (contentType === undefined) return body.length === 0 && method === 'HEAD' ? [] : ['no Content-Type'];
  const mediaType = (contentType.split(';')[0] as string).trim().toLowerCase();
  if (content[mediaType] === undefined) return [`Content-Type ${mediaType} is not one of ${Object.keys(content).join(', ')}`];
  if (method === 'HEAD') return body.length === 0 ? [] : ['a HEAD answer has a body'];
  let value: Json;
  if (mediaType === 'application/json' || mediaType.endsWith('+json')) {
    try {
      value = JSON.parse(body.toString('utf8')) as Json;
    } catch {
      return [`the body is not JSON`];
    }
  } else {
    value = body.toString('utf8');
  }
  const output = (await validatorAt(`${pointer}${pointerOf('content', mediaType, 'schema')}`))(value as never, 'BASIC');
  return output.valid ? [] : [`the ${mediaType} body does not match its schema:\n${describe(output.errors, value)}`];
}

/** Hyperjump's BASIC output as lines: where in the value, which keyword of which schema. */
function describe(errors: OutputUnit[] | undefined, value: Json): string {
  const lines = (errors ?? [])
    .slice(0, 8)
    .map((e) => {
      const where = e.instanceLocation.replace(/^#/, '') || '/';
      const found = JSON.stringify(valueAt(value, where))?.slice(0, 120);
      return `    at ${where} (${found}): ${e.absoluteKeywordLocation.replace(`${DOCUMENT_URI}#`, '#')}`;
    });
  return lines.join('\n');
}

function valueAt(value: Json, pointer: string): Json | undefined {
  let node: Json | undefined = value;
  for (const raw of pointer.split('/').slice(1)) {
    if (raw === '') continue;
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = node !== null && typeof node === 'object' ? (node as Record<string, Json>)[key] : undefined;
  }
  return node;
}

/** A source's paths and the default source's they stand for: ['/products', '/entries'], ['/pages/products', '/pages']. */
export type PathAlias = readonly [string, string];

const watched = new Map<string, readonly PathAlias[]>();
let unchecked: typeof fetch | undefined;

/** The path as the document lists it: a source's paths are the default source's, elsewhere (server/http/openapi.ts, openapiFor). */
function unaliased(path: string, aliases: readonly PathAlias[]): string {
  for (const [from, to] of aliases) {
    if (path === from || path.startsWith(`${from}/`) || path.startsWith(`${from}?`)) return to + path.slice(from.length);
  }
  return path;
}

/**
 * From now until `unwatchAnswers`, every fetch() to this origin has its answer
 * checked before the caller gets it: an answer off the contract rejects the
 * fetch with a ContractError, which fails the test that made the request.
 * `aliases`: the paths of its sources, checked as the default source's.
 */
export function watchAnswers(url: string, aliases: readonly PathAlias[] = []): void {
  watched.set(new URL(url).origin, aliases);
  if (unchecked) return;
  const original = globalThis.fetch;
  unchecked = original;
  globalThis.fetch = async (input, init) => {
    const res = await original(input, init);
    const target = new URL(res.url || (input instanceof Request ? input.url : String(input)));
    const paths = watched.get(target.origin);
    if (paths === undefined) return res;
    let body: Buffer;
    try {
      body = Buffer.from(await res.clone().arrayBuffer());
    } catch {
      // Cut off mid-body (a test that stops the server, or aborts): the caller sees that itself.
      return res;
    }
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const headers: Record<string, string> = {};
    res.headers.forEach((value, name) => (headers[name] = value));
    // After a redirect, what came is the answer to a GET of the last URL.
    await checkAnswer({ method: res.redirected ? 'GET' : method, path: unaliased(target.pathname + target.search, paths), status: res.status, headers, body });
    return res;
  };
}

export function unwatchAnswers(url: string): void {
  watched.delete(new URL(url).origin);
}
