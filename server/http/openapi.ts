// The HTTP contract as an OpenAPI 3.1 document: served at /openapi.json, and
// every answer the test suite gets is checked against it
// (test/support/contract.ts). The id rule and the list bound come from the
// code itself, so the document cannot drift from them.
import { ENTRY_ID, MAX_IDS } from '../../shared/entry-id.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const ref = (kind: string, name: string): JsonObject => ({ $ref: `#/components/${kind}/${name}` });
const schema = (name: string): JsonObject => ref('schemas', name);
const response = (name: string): JsonObject => ref('responses', name);
/** A response header: its value's schema is in components.schemas. */
const header = (name: string, required = true): JsonObject => ({ required, schema: schema(name) });
const html: JsonObject = { 'text/html': { schema: schema('HtmlPage') } };
const problem: JsonObject = { 'application/problem+json': { schema: schema('Problem') }, ...html };
const json = (name: string): JsonObject => ({ 'application/json': { schema: schema(name) } });
const problemResponse = (description: string, headers: JsonObject = {}): JsonObject => ({ description, headers, content: problem });

/** The answers of the entry reads when the upstream or this service cannot give one. */
const entryFailures: JsonObject = {
  '400': response('BadRequest'),
  '404': response('NotFound'),
  '502': response('UpstreamInvalid'),
  '503': response('Unavailable'),
  '504': response('UpstreamTimeout'),
};
const adminFailures: JsonObject = {
  '401': response('Unauthorized'),
  '403': response('Forbidden'),
  '404': response('NotFound'),
  '503': response('Unavailable'),
};
const page: JsonObject = {
  '200': {
    description: 'The published page.',
    headers: { ETag: header('EntityTag'), 'Last-Modified': header('HttpDate'), 'Cache-Control': header('CacheControl', false) },
    content: html,
  },
  '304': { description: 'The page has not changed (If-None-Match, If-Modified-Since).', headers: { ETag: header('EntityTag') } },
  '404': response('NotFound'),
};
const idParameter: JsonObject = { name: 'id', in: 'path', required: true, schema: schema('EntryId') };
const adminSecurity: Json = [{ bearer: [] }, { basic: [] }];

const paths: Record<string, Record<string, JsonObject>> = {
  '/': {
    get: {
      operationId: 'home',
      summary: 'What this is and where to look: a page for a browser, JSON otherwise.',
      responses: { '200': { description: 'The links.', content: { ...json('Home'), ...html } } },
    },
  },
  '/entries/{id}': {
    get: {
      operationId: 'getEntry',
      summary: 'One entry, through the freshness check; a page for a client that prefers HTML.',
      parameters: [idParameter],
      responses: {
        '200': {
          description: 'The entry, fresh or stale (Cache-Status says which).',
          headers: { 'Cache-Status': header('CacheStatus'), Age: header('Seconds'), ETag: header('EntityTag') },
          content: { ...json('Entry'), ...html },
        },
        '304': {
          description: 'The entry has not changed (If-None-Match).',
          headers: { 'Cache-Status': header('CacheStatus'), Age: header('Seconds'), ETag: header('EntityTag') },
        },
        ...entryFailures,
      },
    },
  },
  '/entries': {
    get: {
      operationId: 'listEntries',
      summary: `Up to ${MAX_IDS} entries at once, each through the same check.`,
      parameters: [
        {
          name: 'ids',
          in: 'query',
          required: true,
          description: 'Comma-separated ids; `?ids=a&ids=b` says the same.',
          schema: { type: 'string' },
        },
      ],
      responses: {
        '200': { description: 'The entries found, and why the others are not there.', content: json('EntryList') },
        '400': response('BadRequest'),
        '503': response('Unavailable'),
      },
    },
  },
  '/entries/{id}/related': {
    get: {
      operationId: 'getRelated',
      summary: "The entries named by the record's `related` ids, each through the same check.",
      parameters: [idParameter],
      responses: {
        '200': { description: 'The related entries, and why the others are not there.', content: json('RelatedList') },
        ...entryFailures,
      },
    },
  },
  '/entries/{id}/refresh': {
    post: {
      operationId: 'refreshEntry',
      summary: "An operator's refresh, queued (Bearer only: a browser's remembered Basic password is refused).",
      parameters: [idParameter],
      security: [{ bearer: [] }],
      responses: {
        '202': { description: 'The refresh is queued.', content: json('RefreshQueued') },
        '400': response('BadRequest'),
        ...adminFailures,
      },
    },
  },
  '/pages': {
    get: {
      operationId: 'pagesRedirect',
      responses: {
        '301': {
          description: 'The index lives at /pages/.',
          headers: { Location: { required: true, schema: { const: '/pages/' } } },
          content: { 'text/html': { schema: { type: 'string' } }, 'text/plain': { schema: { type: 'string' } } },
        },
      },
    },
  },
  '/pages/': { get: { operationId: 'pageIndex', summary: 'The index of published pages.', responses: page } },
  '/pages/{page}': {
    get: {
      operationId: 'getPage',
      summary: "An entry's published page, `<id>.html`; any other name is 404.",
      parameters: [{ name: 'page', in: 'path', required: true, schema: { type: 'string' } }],
      responses: page,
    },
  },
  '/admin': {
    get: {
      operationId: 'status',
      summary: 'The status page: HTML for a browser, JSON otherwise (admin token as Bearer or as the Basic password).',
      security: adminSecurity,
      responses: { '200': { description: 'The status of this process.', content: { ...json('Status'), ...html } }, ...adminFailures },
    },
  },
  '/admin/outbox': {
    get: {
      operationId: 'outbox',
      summary: 'The outbox at a glance.',
      security: adminSecurity,
      responses: { '200': { description: 'Counts by state, the mailers, the latest messages.', content: json('Outbox') }, ...adminFailures },
    },
  },
  '/healthz': {
    get: { operationId: 'liveness', responses: { '200': { description: 'The process runs.', content: json('Health') } } },
  },
  '/readyz': {
    get: {
      operationId: 'readiness',
      responses: {
        '200': { description: 'The database answers and the updater pool is up.', content: json('Readiness') },
        '503': { description: 'Not ready (or stopping).', content: json('Readiness') },
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      responses: { '200': { description: 'Prometheus text.', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  },
  '/openapi.json': {
    get: {
      operationId: 'openapi',
      summary: 'This document.',
      responses: {
        '200': { description: 'This document.', headers: { ETag: header('EntityTag') }, content: json('OpenApiDocument') },
        '304': { description: 'Unchanged (If-None-Match).', headers: { ETag: header('EntityTag') } },
      },
    },
  },
};

// HEAD is GET without a body, and OPTIONS lists the methods, on every path (as the router answers them).
for (const [path, item] of Object.entries(paths)) {
  const get = item.get;
  if (get) item.head = { ...get, operationId: `${String(get.operationId)}Head` };
  item.options = { operationId: `options${path.replace(/[^A-Za-z0-9]+/g, '_')}`, responses: { '200': response('Options') } };
}

const components: JsonObject = {
  securitySchemes: {
    bearer: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN; with it unset the admin endpoints answer 404.' },
    basic: { type: 'http', scheme: 'basic', description: 'Any user name, ADMIN_TOKEN as the password; for reading only.' },
  },
  schemas: {
    EntryId: { type: 'string', pattern: ENTRY_ID.source },
    Entry: {
      type: 'object',
      required: ['id', 'data', 'fetchedAt'],
      additionalProperties: false,
      properties: {
        id: schema('EntryId'),
        data: { description: "The upstream's record, as valid under UPSTREAM_SCHEMA." },
        fetchedAt: { type: 'string', format: 'date-time' },
      },
    },
    ItemError: {
      type: 'object',
      required: ['id', 'status', 'title', 'detail'],
      additionalProperties: false,
      properties: {
        id: { type: 'string' },
        status: { type: 'integer', minimum: 400, maximum: 599 },
        title: { type: 'string' },
        detail: { type: 'string' },
      },
    },
    EntryList: {
      type: 'object',
      required: ['entries', 'errors'],
      additionalProperties: false,
      properties: {
        entries: { type: 'array', maxItems: MAX_IDS, items: schema('Entry') },
        errors: { type: 'array', maxItems: MAX_IDS, items: schema('ItemError') },
      },
    },
    RelatedList: {
      type: 'object',
      required: ['id', 'entries', 'errors'],
      additionalProperties: false,
      properties: {
        id: schema('EntryId'),
        entries: { type: 'array', maxItems: MAX_IDS, items: schema('Entry') },
        errors: { type: 'array', maxItems: MAX_IDS, items: schema('ItemError') },
      },
    },
    RefreshQueued: {
      type: 'object',
      required: ['id', 'status'],
      additionalProperties: false,
      properties: { id: schema('EntryId'), status: { const: 'queued' } },
    },
    Problem: {
      description: 'RFC 9457 problem details; a 5xx carries only fixed, friendly words.',
      type: 'object',
      required: ['type', 'title', 'status', 'detail', 'instance'],
      additionalProperties: false,
      properties: {
        type: { type: 'string', pattern: '^urn:freshen:problem:[a-z-]+$' },
        title: { type: 'string' },
        status: { type: 'integer', minimum: 400, maximum: 599 },
        detail: { type: 'string' },
        instance: { type: 'string', description: 'The path of the request.' },
        requestId: { type: 'string', description: 'As in X-Request-Id and the access log.' },
      },
    },
    HtmlPage: { type: 'string', pattern: '^<!doctype html>' },
    Home: {
      type: 'object',
      required: ['service', 'links'],
      additionalProperties: false,
      properties: { service: { const: 'freshen' }, links: { type: 'object', additionalProperties: { type: 'string' } } },
    },
    Health: { type: 'object', required: ['status'], additionalProperties: false, properties: { status: { const: 'ok' } } },
    Readiness: {
      type: 'object',
      required: ['status', 'checks'],
      additionalProperties: false,
      properties: {
        status: { enum: ['ready', 'not ready'] },
        checks: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    Outbox: {
      type: 'object',
      required: ['counts', 'oldestUnsentSeconds', 'mailers', 'recent'],
      properties: {
        counts: {
          type: 'object',
          required: ['pending', 'sending', 'sent', 'dead'],
          additionalProperties: { type: 'integer', minimum: 0 },
        },
        oldestUnsentSeconds: { type: ['number', 'null'], minimum: 0 },
        mailers: { type: 'object' },
        recent: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'kind', 'state', 'subject', 'attempts', 'createdAt', 'sentAt', 'lastError'],
            properties: {
              state: { enum: ['pending', 'sending', 'sent', 'dead'] },
              attempts: { type: 'integer', minimum: 0 },
              createdAt: { type: 'string', format: 'date-time' },
              sentAt: { type: ['string', 'null'], format: 'date-time' },
              lastError: { type: ['string', 'null'] },
            },
          },
        },
      },
    },
    Status: {
      type: 'object',
      required: ['pid', 'startedAt', 'uptimeSeconds', 'settings', 'pool', 'cache', 'memoryEntries', 'recentErrors', 'outbox'],
      properties: {
        pid: { type: 'integer' },
        startedAt: { type: 'string', format: 'date-time' },
        uptimeSeconds: { type: 'integer', minimum: 0 },
        settings: { type: 'object' },
        pool: { type: 'object' },
        cache: { type: 'object' },
        memoryEntries: { type: 'integer', minimum: 0 },
        recentErrors: { type: 'array', items: { type: 'object', required: ['id', 'code'] } },
        outbox: schema('Outbox'),
      },
    },
    CacheStatus: {
      description: 'RFC 9211: how the freshness check answered (hit, fwd=miss, fwd=stale; stored, collapsed, ttl=, detail=).',
      type: 'string',
      pattern: '^freshen; (hit|fwd=(miss|stale))(; (stored|collapsed|ttl=-?[0-9]+|detail=[a-z-]+))*$',
    },
    Seconds: { description: 'Age, Retry-After: whole seconds.', type: 'string', pattern: '^[0-9]+$' },
    EntityTag: { description: 'If-None-Match with it answers 304.', type: 'string', pattern: '^(W/)?"[\\x21\\x23-\\x7e]*"$' },
    HttpDate: { type: 'string', pattern: '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$' },
    CacheControl: { type: 'string' },
    Methods: { description: 'Allow: the methods a path takes.', type: 'string', pattern: '^[A-Z]+(, [A-Z]+)*$' },
    Challenge: { description: 'WWW-Authenticate: the schemes the admin endpoints take.', type: 'string', pattern: 'Bearer realm="freshen"' },
    OpenApiDocument: {
      type: 'object',
      required: ['openapi', 'info', 'paths'],
      properties: { openapi: { type: 'string', pattern: '^3\\.1\\.' } },
    },
  },
  responses: {
    BadRequest: problemResponse('The id, the list or the request is not valid: an id is 1 to 128 of A-Z a-z 0-9 _ -.'),
    NotFound: problemResponse('No such entry (the upstream says 404), page or path; the admin endpoints with no ADMIN_TOKEN set.', {
      'Cache-Status': header('CacheStatus', false),
    }),
    MethodNotAllowed: problemResponse('The path does not take this method.', { Allow: header('Methods') }),
    Unauthorized: problemResponse('No admin token given.', { 'WWW-Authenticate': header('Challenge') }),
    Forbidden: problemResponse('The token given is not the admin token.'),
    UpstreamInvalid: problemResponse('The upstream sent data that fails the schema (or no JSON, too much, a redirect, an unexpected status), and there is no last good row.', {
      'Cache-Status': header('CacheStatus', false),
    }),
    Unavailable: problemResponse('The upstream is down, the updater pool is full, the database is away or the server is stopping, and there is no row to serve.', {
      'Retry-After': header('Seconds'),
      'Cache-Status': header('CacheStatus', false),
    }),
    UpstreamTimeout: problemResponse('The upstream is too slow, and there is no row to serve.', {
      'Retry-After': header('Seconds'),
      'Cache-Status': header('CacheStatus', false),
    }),
    Internal: problemResponse('A fault of this service; the words are fixed, the admins are told.'),
    Options: {
      description: 'The methods this path allows.',
      headers: { Allow: header('Methods') },
      content: { 'text/plain': { schema: { type: 'string', maxLength: 0 } } },
    },
    RefusedByParser: { description: "A request Node's HTTP parser refuses (an unknown method, a malformed request line); no body." },
    HeadersTooLarge: { description: "Request headers beyond Node's limit (16 KiB); no body." },
  },
};

export const openapi = {
  openapi: '3.1.1',
  info: {
    title: 'freshen',
    version: '1',
    description:
      'Serves data owned by an upstream from a local SQL copy that is kept fresh in the background. ' +
      'Errors are application/problem+json (RFC 9457), or an HTML page for a client that prefers HTML; they never carry internals. ' +
      'Paths match as the router matches them: letter case aside, with or without one trailing slash.',
  },
  paths,
  components,
  // What the paths cannot say: the answers to requests they do not list, and to any request at all.
  'x-other-answers': {
    unlistedPath: { '404': response('NotFound') },
    unlistedMethod: { '405': response('MethodNotAllowed') },
    anyRequest: { '400': response('RefusedByParser'), '431': response('HeadersTooLarge'), '500': response('Internal') },
  },
} as const satisfies JsonObject;
