// The HTTP contract as an OpenAPI 3.1 document: served at /openapi.json, and
// every answer the test suite gets is checked against it
// (test/support/contract.ts). Built from parts (openapi/): the paths, and the
// components they refer to.
import { components } from './openapi/components.js';
import type { JsonObject } from './openapi/json.js';
import { response } from './openapi/parts.js';
import { paths } from './openapi/paths.js';
import { DEFAULT_SOURCE } from '../../shared/sources.js';

export const openapi = {
  openapi: '3.1.1',
  info: {
    title: 'freshen',
    version: '1',
    description:
      'Serves data owned by an upstream from a local SQL copy that is kept fresh in the background. ' +
      'Errors are application/problem+json (RFC 9457), or an HTML page for a client that prefers HTML; they never carry internals. ' +
      'Paths match as the router matches them: letter case aside, with or without one trailing slash.',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  // The paths are served where freshen listens (PUBLIC_URL behind a proxy).
  servers: [{ url: '/' }],
  // Public unless an operation says otherwise (the admin endpoints).
  security: [{}],
  paths,
  components,
  // What the paths cannot say: the answers to requests on paths they do not list (every listed
  // operation has the answers to any request, 400, 431 and 500, among its own).
  'x-other-answers': {
    unlistedPath: { '404': response('NotFound') },
    unlistedMethod: { '405': response('MethodNotAllowed') },
    anyRequest: { '400': response('RefusedByParser'), '431': response('HeadersTooLarge'), '500': response('Internal') },
  },
} as const satisfies JsonObject;

/**
 * The document for the sources a service serves: the entry paths under each
 * source's path and the page paths under each one's pages path (operation ids
 * of a source other than `entries` end in `_<name>`). One source, `entries`:
 * the document above.
 */
export function openapiFor(sources: ReadonlyArray<{ name: string; path: string; pagesPath: string }>): JsonObject {
  if (sources.length === 1 && sources[0]?.name === DEFAULT_SOURCE && sources[0].path === '/entries') return openapi;
  const out: Record<string, JsonObject> = {};
  for (const [path, item] of Object.entries(openapi.paths as Record<string, JsonObject>)) {
    const under = path === '/entries' || path.startsWith('/entries/') ? 'entries' : path === '/pages' || path.startsWith('/pages/') ? 'pages' : undefined;
    if (under === undefined) {
      out[path] = item;
      continue;
    }
    for (const source of sources) {
      const base = under === 'entries' ? source.path : source.pagesPath;
      const suffix = source.name === DEFAULT_SOURCE ? '' : `_${source.name.replace(/-/g, '_')}`;
      let own = item;
      if (path === '/pages') {
        // The redirect's words and its Location name this source's index.
        own = JSON.parse(JSON.stringify(item).replaceAll('/pages/', `${base}/`)) as JsonObject;
        const moved = ((own.get as JsonObject).responses as JsonObject)['301'] as { headers: { Location: JsonObject } };
        moved.headers.Location.schema = { const: `${base}/` };
      }
      const renamed = Object.fromEntries(
        Object.entries(own).map(([method, op]) => [method, { ...(op as JsonObject), operationId: `${String((op as JsonObject).operationId)}${suffix}` }]),
      );
      out[`${base}${path.slice(under.length + 1)}`] = renamed;
    }
  }
  return { ...openapi, paths: out };
}
