// The HTTP contract as an OpenAPI 3.1 document: served at /openapi.json, and
// every answer the test suite gets is checked against it
// (test/support/contract.ts). Built from parts (openapi/): the paths, and the
// components they refer to.
import { components } from './openapi/components.js';
import type { JsonObject } from './openapi/json.js';
import { response } from './openapi/parts.js';
import { paths } from './openapi/paths.js';

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
