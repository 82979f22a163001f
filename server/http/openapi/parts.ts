// The pieces the OpenAPI document's parts share: references into its
// components, the bodies, headers and failure answers many paths repeat.
import type { Json, JsonObject } from './json.js';

export const ref = (kind: string, name: string): JsonObject => ({ $ref: `#/components/${kind}/${name}` });
export const schema = (name: string): JsonObject => ref('schemas', name);
export const response = (name: string): JsonObject => ref('responses', name);
/** A response header: its value's schema is in components.schemas. */
export const header = (name: string, required = true): JsonObject => ({ required, schema: schema(name) });
export const html: JsonObject = { 'text/html': { schema: schema('HtmlPage') } };
export const problem: JsonObject = { 'application/problem+json': { schema: schema('Problem') }, ...html };
export const json = (name: string): JsonObject => ({ 'application/json': { schema: schema(name) } });
export const problemResponse = (description: string, headers: JsonObject = {}): JsonObject => ({ description, headers, content: problem });

/** The answers of the entry reads when the upstream or this service cannot give one. */
export const entryFailures: JsonObject = {
  '400': response('BadRequest'),
  '404': response('NotFound'),
  '502': response('UpstreamInvalid'),
  '503': response('Unavailable'),
  '504': response('UpstreamTimeout'),
};
export const adminFailures: JsonObject = {
  '401': response('Unauthorized'),
  '403': response('Forbidden'),
  '404': response('NotFound'),
  '503': response('Unavailable'),
};
export const page: JsonObject = {
  '200': {
    description: 'The published page.',
    headers: { ETag: header('EntityTag'), 'Last-Modified': header('HttpDate'), 'Cache-Control': header('CacheControl', false) },
    content: html,
  },
  '304': { description: 'The page has not changed (If-None-Match, If-Modified-Since).', headers: { ETag: header('EntityTag') } },
  '404': response('NotFound'),
};
export const idParameter: JsonObject = { name: 'id', in: 'path', required: true, schema: schema('EntryId') };
export const adminSecurity: Json = [{ bearer: [] }, { basic: [] }];
