// The HTTP contract as third-party tools read it: the OpenAPI document passes
// Redocly's lint (the engine of `@redocly/cli lint`) with its recommended
// rules, but two that do not fit this document:
// - no-path-trailing-slash: the index of published pages lives at `/pages/`
//   (its links are relative to it), and `/pages` redirects there;
// - operation-2xx-response: some operations exist only to say what is never a
//   success — a method a path does not take (405 with Allow, so that a tool
//   proxying every request knows the answer), and `/pages`'s redirect.
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { expect } from 'chai';
import { openapi, openapiFor } from '../server/http/openapi.js';

/** Redocly's recommended rules, but the two this document cannot follow: every problem found, one line each. */
async function lint(document: unknown): Promise<string[]> {
  const config = await createConfig({
    extends: ['recommended'],
    rules: { 'no-path-trailing-slash': 'off', 'operation-2xx-response': 'off' },
  });
  const problems = await lintFromString({ source: JSON.stringify(document), absoluteRef: '/openapi.json', config });
  return problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} (${p.location[0]?.pointer ?? ''})`);
}

describe('the OpenAPI document, linted', () => {
  it("passes Redocly's recommended rules (but the two this document cannot follow), with no warning", async () => {
    expect(await lint(openapi)).to.deep.equal([]);
  });

  it("passes them too as served for several sources, each source's paths under its own", async () => {
    const document = openapiFor([
      { name: 'products', path: '/catalogue', pagesPath: '/pages/products' },
      { name: 'entries', path: '/entries', pagesPath: '/pages' },
      { name: 'news-items', path: '/news', pagesPath: '/pages/news-items' },
    ]) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).to.include.members(['/catalogue/{id}', '/news/{id}/related', '/entries', '/pages/news-items/', '/pages/products/sitemap.xml']);
    expect(await lint(document)).to.deep.equal([]);
  });

  it('lists the answers a tool would otherwise flag as unknown: 405 for a method a path does not take, 400, 431 and 500 for any request', () => {
    const entry = openapi.paths['/entries/{id}'] as Record<string, { responses: Record<string, unknown> }>;
    expect(Object.keys(entry.delete?.responses ?? {})).to.include.members(['405', '400', '431', '500']);
    expect(Object.keys(entry.get?.responses ?? {})).to.include.members(['200', '404', '431', '500']);
  });
});
