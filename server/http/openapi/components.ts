// The OpenAPI document's components: the schemas of bodies and headers, the
// shared responses, and the security schemes. The id rule and the list bound
// come from the code itself, so the document cannot drift from them.
import { ENTRY_ID, MAX_IDS } from '../../../shared/entry-id.js';
import { TAG } from '../../../shared/tags.js';
import { MAX_PURGE_IDS, MAX_PURGE_TAGS, PURGE_BODY_LIMIT } from '../routes/purge.js';
import type { JsonObject } from './json.js';
import { header, problemResponse, schema } from './parts.js';

export const components: JsonObject = {
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
    PurgeIds: {
      description: 'Entry ids (each checked as any id).',
      type: 'array',
      minItems: 1,
      maxItems: MAX_PURGE_IDS,
      items: schema('EntryId'),
    },
    PurgeTags: {
      description: "Cache tags, as the upstream's Surrogate-Key and Cache-Tag headers give them; an entry with any of them is purged.",
      type: 'array',
      minItems: 1,
      maxItems: MAX_PURGE_TAGS,
      items: { type: 'string', pattern: TAG.source },
    },
    PurgeRequest: {
      type: 'object',
      additionalProperties: false,
      properties: {
        source: { type: 'string', description: 'The source the ids are of (default and only one: `entries`).' },
        ids: schema('PurgeIds'),
        tags: schema('PurgeTags'),
        hard: { type: 'boolean', default: false, description: 'Drop the entries (and their pages) instead of marking them stale.' },
      },
      oneOf: [{ required: ['ids'] }, { required: ['tags'] }],
    },
    HookPurge: {
      type: 'object',
      additionalProperties: false,
      properties: { ids: schema('PurgeIds'), tags: schema('PurgeTags') },
      oneOf: [{ required: ['ids'] }, { required: ['tags'] }],
    },
    Purged: {
      type: 'object',
      required: ['source', 'hard', 'matched', 'batches', 'ms', 'bySource'],
      additionalProperties: false,
      properties: {
        source: { type: 'string', description: 'The source purged, or `*`: the tags were looked up in every source (several).' },
        hard: { type: 'boolean' },
        matched: { type: 'integer', minimum: 0, description: 'Entries marked stale or dropped.' },
        bySource: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, description: 'Entries matched in each source purged.' },
        batches: { type: 'integer', minimum: 0, description: 'Bounded batches the purge ran in (each told to the other nodes once).' },
        ms: { type: 'integer', minimum: 0, description: 'How long it took.' },
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
      required: ['counts', 'oldestUnsentSeconds', 'mailers', 'recent', 'dead', 'actions'],
      properties: {
        counts: {
          type: 'object',
          description: 'pending, sending and dead counted; sent estimated past 10,000 rows.',
          required: ['pending', 'sending', 'sent', 'dead'],
          properties: {
            pending: { type: 'integer', minimum: 0 },
            sending: { type: 'integer', minimum: 0 },
            sent: { type: 'integer', minimum: 0 },
            dead: { type: 'integer', minimum: 0 },
          },
        },
        oldestUnsentSeconds: { type: ['number', 'null'], minimum: 0 },
        mailers: { type: 'object' },
        recent: { type: 'array', items: schema('OutboxMessage') },
        dead: { type: 'array', description: 'Dead messages, newest first (at most 50), with their last error: to retry or delete.', items: schema('OutboxMessage') },
        actions: {
          type: 'array',
          description: "Operators' retries and deletions of dead messages through this process, newest first.",
          items: {
            type: 'object',
            required: ['at', 'action', 'id', 'requestId'],
            properties: { at: { type: 'string', format: 'date-time' }, action: { enum: ['retry', 'delete'] }, id: { type: 'integer' }, requestId: { type: 'string' } },
          },
        },
      },
    },
    OutboxMessage: {
      type: 'object',
      required: ['id', 'kind', 'state', 'subject', 'attempts', 'createdAt', 'sentAt', 'lastError'],
      properties: {
        id: { type: 'integer' },
        kind: { type: 'string' },
        subject: { type: 'string' },
        state: { enum: ['pending', 'sending', 'sent', 'dead'] },
        attempts: { type: 'integer', minimum: 0 },
        createdAt: { type: 'string', format: 'date-time' },
        sentAt: { type: ['string', 'null'], format: 'date-time' },
        lastError: { type: ['string', 'null'] },
      },
    },
    MessageRequeued: {
      type: 'object',
      required: ['id', 'state'],
      additionalProperties: false,
      properties: { id: { type: 'integer', minimum: 1 }, state: { const: 'pending' } },
    },
    Status: {
      type: 'object',
      required: ['pid', 'startedAt', 'uptimeSeconds', 'settings', 'pool', 'cache', 'memoryEntries', 'upstream', 'storedEntries', 'recentErrors', 'outbox'],
      properties: {
        pid: { type: 'integer' },
        startedAt: { type: 'string', format: 'date-time' },
        uptimeSeconds: { type: 'integer', minimum: 0 },
        settings: { type: 'object' },
        pool: { type: 'object' },
        cache: { type: 'object' },
        memoryEntries: { type: 'integer', minimum: 0 },
        upstream: {
          type: 'object',
          description: "The upstream's circuit breaker: closed, open (nothing is sent until probeAt), or probing (one refresh is out to try it).",
          required: ['origin', 'state', 'probeAt', 'openedAt', 'openedBy', 'reason', 'attempts', 'failures', 'held', 'probes', 'inFlight', 'waiting', 'capped'],
          properties: {
            origin: { type: 'string' },
            state: { enum: ['closed', 'open', 'probing'] },
            probeAt: { type: ['string', 'null'], format: 'date-time' },
            openedAt: { type: ['string', 'null'], format: 'date-time' },
            openedBy: { type: ['string', 'null'] },
            reason: { type: ['string', 'null'] },
            attempts: { type: 'integer', minimum: 0, description: "Refreshes this process sent in the breaker's window." },
            failures: { type: 'integer', minimum: 0 },
            held: { type: 'integer', minimum: 0, description: 'Refreshes this process did not send because the breaker was open.' },
            probes: { type: 'integer', minimum: 0 },
            inFlight: { type: 'integer', minimum: 0, description: 'Upstream requests in flight (UPSTREAM_MAX_CONCURRENCY).' },
            waiting: { type: 'object', description: 'Refreshes waiting for the upstream caps: misses go first.', properties: { miss: { type: 'integer', minimum: 0 }, background: { type: 'integer', minimum: 0 } } },
            capped: { type: 'object', description: 'Misses answered 503 and background refreshes dropped by the caps.', properties: { miss: { type: 'integer', minimum: 0 }, background: { type: 'integer', minimum: 0 } } },
          },
        },
        storedEntries: { type: 'integer', minimum: 0, description: 'Rows in the copy, estimated (never counted).' },
        recentErrors: { type: 'array', items: { type: 'object', required: ['id', 'code'], properties: { id: schema('EntryId'), code: { type: 'string' } } } },
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
    SignatureChallenge: { description: 'WWW-Authenticate: the webhook takes a signature.', type: 'string', pattern: '^Signature realm="freshen"' },
    Challenge: { description: 'WWW-Authenticate: the schemes the admin endpoints take.', type: 'string', pattern: 'Bearer realm="freshen"' },
    OpenApiDocument: {
      type: 'object',
      required: ['openapi', 'info', 'paths'],
      properties: { openapi: { type: 'string', pattern: '^3\\.1\\.' }, info: { type: 'object' }, paths: { type: 'object' } },
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
    WebhookRefused: problemResponse('The signature is missing, does not match the body, is more than 5 minutes from now, or was used before; nothing was changed.', {
      'WWW-Authenticate': header('SignatureChallenge'),
    }),
    PayloadTooLarge: problemResponse(`The body is larger than ${PURGE_BODY_LIMIT} bytes.`),
    UnsupportedMediaType: problemResponse('The body is not application/json.'),
    Conflict: problemResponse('The message is not dead: it is queued, being sent or sent already (only a dead one is retried or deleted).'),
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
