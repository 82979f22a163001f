// The OpenAPI document's paths: every route of the HTTP contract, each with
// the answers it can give; HEAD and OPTIONS are added for every path.
import { MAX_IDS } from '../../../shared/entry-id.js';
import type { JsonObject } from './json.js';
import { adminFailures, adminSecurity, entryFailures, header, html, idParameter, json, page, response } from './parts.js';

/** A published XML file (a sitemap), as a page is served. */
const xmlFile: JsonObject = {
  ...page,
  '200': { ...(page['200'] as JsonObject), description: 'The sitemap.', content: { 'application/xml': { schema: { type: 'string' } } } },
};

const messageIdParameter: JsonObject = { name: 'id', in: 'path', required: true, description: 'The message id: a positive whole number (else 400).', schema: { type: 'string' } };

export const paths: Record<string, Record<string, JsonObject>> = {
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
      summary: 'A redirect to the index, /pages/.',
      responses: {
        '301': {
          description: 'The index lives at /pages/.',
          // A source's own (server/http/openapi.ts, openapiFor) is its pages path: /pages/<name>/.
          headers: { Location: { required: true, schema: { type: 'string', pattern: '^/pages/([a-z][a-z0-9-]{0,39}/)?$' } } },
          content: { 'text/html': { schema: { type: 'string' } }, 'text/plain': { schema: { type: 'string' } } },
        },
      },
    },
  },
  '/pages/': { get: { operationId: 'pageIndex', summary: 'The top of the index of published pages: its shards.', responses: page } },
  '/pages/index/{shard}': {
    get: {
      operationId: 'getIndexShard',
      summary: 'One shard of the index, `<n>.html`: links to the pages of the entries whose id hashes into it.',
      parameters: [{ name: 'shard', in: 'path', required: true, schema: { type: 'string' } }],
      responses: page,
    },
  },
  '/pages/sitemap.xml': { get: { operationId: 'sitemapIndex', summary: 'The sitemap index (sitemaps.org): one sitemap per shard.', responses: xmlFile } },
  '/pages/sitemaps/{shard}': {
    get: {
      operationId: 'getSitemap',
      summary: "One shard's sitemap, `<n>.xml`: its entries' page URLs with lastmod.",
      parameters: [{ name: 'shard', in: 'path', required: true, schema: { type: 'string' } }],
      responses: xmlFile,
    },
  },
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
  '/admin/outbox/{id}/retry': {
    post: {
      operationId: 'retryDeadMessage',
      summary: 'A dead message back in the queue, its attempts counted afresh (Bearer only); asked twice, it is still sent once.',
      parameters: [messageIdParameter],
      security: [{ bearer: [] }],
      responses: {
        '202': { description: 'Queued: a mailer sends it next.', content: json('MessageRequeued') },
        '400': response('BadRequest'),
        '409': response('Conflict'),
        ...adminFailures,
      },
    },
  },
  '/admin/outbox/{id}': {
    delete: {
      operationId: 'deleteDeadMessage',
      summary: 'A dead message deleted (Bearer only).',
      parameters: [messageIdParameter],
      security: [{ bearer: [] }],
      responses: { '204': { description: 'Deleted.' }, '400': response('BadRequest'), '409': response('Conflict'), ...adminFailures },
    },
  },
  '/admin/purge': {
    post: {
      operationId: 'purge',
      summary:
        'Entries named by id, or carrying any of the tags named (the upstream\'s Surrogate-Key / Cache-Tag), marked stale — served stale while the next read refreshes them — or dropped (`hard`); on every node (Bearer only).',
      security: [{ bearer: [] }],
      requestBody: { required: true, content: json('PurgeRequest') },
      responses: {
        '200': { description: 'Purged: how many entries matched.', content: json('Purged') },
        '400': response('BadRequest'),
        '413': response('PayloadTooLarge'),
        '415': response('UnsupportedMediaType'),
        ...adminFailures,
      },
    },
  },
  '/hooks/{source}': {
    post: {
      operationId: 'webhook',
      summary:
        "The upstream's word that entries changed: they are marked stale on every node. Signed with the source's secret (WEBHOOK_SECRET for `entries`, its `webhookSecretEnv` for a source of SOURCES_FILE); each signature is taken once, within 5 minutes of its timestamp.",
      parameters: [
        { name: 'source', in: 'path', required: true, description: 'The source whose entries these are: one with a webhook secret (else 404).', schema: { type: 'string' } },
        {
          name: 'X-Freshen-Signature',
          in: 'header',
          required: true,
          description: '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`; several v1 may be given (while the secret is rotated).',
          schema: { type: 'string' },
        },
      ],
      requestBody: { required: true, content: json('HookPurge') },
      responses: {
        '200': { description: 'Marked stale: how many entries matched.', content: json('Purged') },
        '400': response('BadRequest'),
        '401': response('WebhookRefused'),
        '404': response('NotFound'),
        '413': response('PayloadTooLarge'),
        '415': response('UnsupportedMediaType'),
        '503': response('Unavailable'),
      },
    },
  },
  '/healthz': {
    get: { operationId: 'liveness', summary: 'Liveness: the process runs.', responses: { '200': { description: 'The process runs.', content: json('Health') } } },
  },
  '/readyz': {
    get: {
      operationId: 'readiness',
      summary: 'Readiness: the database answers (writes and reads), the pool is up, the server is not stopping.',
      responses: {
        '200': { description: 'The database answers and the updater pool is up.', content: json('Readiness') },
        '503': { description: 'Not ready (or stopping).', content: json('Readiness') },
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics of this process (of every worker, in a cluster).',
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

// What every path answers besides its own operations, as the router answers
// it: HEAD is GET without a body, OPTIONS lists the methods, any other method
// is 405 with Allow; and any request may be refused by Node's parser (400),
// have headers past its limit (431), or meet a fault of this service (500).
const OTHER_METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const anyRequest: JsonObject = { '400': response('RefusedByParser'), '431': response('HeadersTooLarge'), '500': response('Internal') };
for (const [path, item] of Object.entries(paths)) {
  const name = path.replace(/[^A-Za-z0-9]+/g, '_');
  const parameters = ((item.get ?? item.post ?? item.delete)?.parameters ?? []) as JsonObject[];
  const get = item.get;
  if (get) item.head = { ...get, operationId: `${String(get.operationId)}Head`, summary: `${String(get.summary)} Headers only.` };
  item.options = { operationId: `options${name}`, summary: 'The methods this path allows.', parameters, responses: { '200': response('Options') } };
  for (const method of OTHER_METHODS) {
    item[method] ??= { operationId: `${method}${name}`, summary: `Not taken here: 405 with Allow.`, parameters, responses: { '405': response('MethodNotAllowed') } };
  }
  for (const operation of Object.values(item)) {
    const responses = operation.responses as JsonObject;
    for (const [status, answer] of Object.entries(anyRequest)) responses[status] ??= answer;
  }
}
