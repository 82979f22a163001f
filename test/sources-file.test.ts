// SOURCES_FILE is read and checked at start: one line per problem, naming the
// source and the field; what a source does not set comes from the env vars,
// and MEMORY_TIER_MAX_BYTES is shared among the sources that set none.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, describeConfig, loadConfig } from '../server/config/config.js';
import { sourcesOf } from '../server/config/sources.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  return expect.fail('the file was taken');
}

describe('the sources file (SOURCES_FILE)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'freshen-sources-file-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function fileWith(content: unknown): Promise<string> {
    const file = join(dir, `sources-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
    return file;
  }

  it('without it, serves one source, entries at /entries, on the env vars alone', () => {
    const config = loadConfig({ ENTRY_TTL_SECONDS: '42' });
    expect(sourcesOf(config)).to.have.length(1);
    expect(sourcesOf(config)[0]).to.deep.include({ name: 'entries', path: '/entries', pagesPath: '/pages', config });
  });

  it('gives each source its own fields over the env vars, its pages a directory of their own, and a share of the memory tier', async () => {
    await writeFile(join(dir, 'schema.json'), JSON.stringify({ type: 'object' }));
    const file = await fileWith({
      sources: [
        { name: 'entries', ttlSeconds: 30 },
        {
          name: 'products',
          path: '/catalogue',
          upstreamUrl: 'http://127.0.0.1:9/items/{id}',
          schema: 'schema.json',
          timeoutMs: 1500,
          contentTeam: ['catalogue@example.test'],
          webhookSecretEnv: 'PRODUCTS_SECRET',
          memoryMaxBytes: 1000,
        },
      ],
    });
    const config = loadConfig({
      SOURCES_FILE: file,
      ENTRY_TTL_SECONDS: '300',
      CONTENT_TEAM: 'all@example.test',
      WEBHOOK_SECRET: 'w'.repeat(32),
      PRODUCTS_SECRET: 'p'.repeat(32),
      MEMORY_TIER_MAX_BYTES: '6000',
      PUBLISH_DIR: join(dir, 'pages'),
    });
    const [entries, products] = sourcesOf(config);
    expect(entries).to.deep.include({ name: 'entries', path: '/entries', pagesPath: '/pages' });
    expect(entries?.config.entries).to.include({ ttlMs: 30_000, memoryMaxBytes: 5000 });
    expect(entries?.config.mail.contentTeam).to.deep.equal(['all@example.test']);
    expect(entries?.config.webhookSecret).to.equal('w'.repeat(32));
    expect(entries?.config.publish.dir).to.equal(join(dir, 'pages'));
    expect(products).to.deep.include({ name: 'products', path: '/catalogue', pagesPath: '/pages/products' });
    expect(products?.config.entries).to.include({ ttlMs: 300_000, memoryMaxBytes: 1000 });
    expect(products?.config.upstream).to.include({ url: 'http://127.0.0.1:9/items/{id}', schemaPath: join(dir, 'schema.json'), timeoutMs: 1500 });
    expect(products?.config.mail.contentTeam).to.deep.equal(['catalogue@example.test']);
    expect(products?.config.webhookSecret).to.equal('p'.repeat(32));
    expect(products?.config.publish.dir).to.equal(join(dir, 'pages', 'products'));
    // --print-config and the status page name the file, not its secrets.
    expect(describeConfig(config).SOURCES_FILE).to.equal(file);
  });

  it('refuses a file it cannot read as JSON, or not of the right shape, in one line', async () => {
    const missing = join(dir, 'nope.json');
    expect(problemsOf({ SOURCES_FILE: missing })).to.deep.equal([`SOURCES_FILE (${missing}): cannot be read as JSON: ENOENT`]);
    const notJson = await fileWith('{"sources": [');
    expect(problemsOf({ SOURCES_FILE: notJson })[0]).to.match(/^SOURCES_FILE \(.+\): cannot be read as JSON: /);
    const list = await fileWith([{ name: 'a' }]);
    expect(problemsOf({ SOURCES_FILE: list })).to.deep.equal([`SOURCES_FILE (${list}): expected {"sources": [ … ]}, an object with a list of sources`]);
    const empty = await fileWith({ sources: [] });
    expect(problemsOf({ SOURCES_FILE: empty })).to.deep.equal([`SOURCES_FILE (${empty}): "sources" is empty; name at least one`]);
  });

  it('lists every problem of every source, one line each, naming the source and the field', async () => {
    const file = await fileWith({
      sources: [
        { name: 'products', upstreamUrl: 'ftp://x/{id}', ttlSeconds: -5, contentTeam: ['not an address'], colour: 'blue' },
        { name: 'products', path: '/admin', ttlMinSeconds: 100, ttlMaxSeconds: 10, cacheControl: 'sometimes' },
        { name: 'Bad Name', schema: 'missing.json', webhookSecretEnv: 'UNSET_SECRET_VARIABLE' },
        { name: 'index', path: 'no-slash', timeoutMs: 60_000, webhookSecretEnv: 'SHORT_SECRET' },
        'not an object',
        { name: 'nullpath', path: null },
      ],
    });
    const problems = problemsOf({ SOURCES_FILE: file, SHORT_SECRET: 'short' });
    const at = `SOURCES_FILE (${file})`;
    expect(problems).to.deep.equal([
      `${at}: sources[0] "products": unknown field "colour"; a source may set name, path, webhookSecretEnv, upstreamUrl, schema, timeoutMs, maxBytes, cacheControl, maxConcurrency, maxRps, breakerFailurePercent, breakerMinAttempts, breakerWindowSeconds, breakerCoolOffSeconds, breakerMaxCoolOffSeconds, ttlSeconds, ttlMinSeconds, ttlMaxSeconds, refreshAhead, notFoundTtlSeconds, maxStaleSeconds, backoffMaxSeconds, memoryMaxBytes, contentTeam`,
      `${at}: sources[0] "products": upstreamUrl="ftp://x/{id}" is not allowed: expected an http:// or https:// URL with {id} in its path or query (not its host)`,
      `${at}: sources[0] "products": ttlSeconds=-5 is not allowed: expected a number from 0 to 31536000`,
      `${at}: sources[0] "products": contentTeam=["not an address"] is not allowed: expected a list of e-mail addresses`,
      `${at}: sources[1] "products": name="products" is not allowed: another source has it`,
      `${at}: sources[1] "products": path="/admin" is not allowed: the server's own /admin is there`,
      `${at}: sources[1] "products": cacheControl="sometimes" is not allowed: expected obey or ignore`,
      `${at}: sources[1] "products": ttlMinSeconds is not allowed: expected at most ttlMaxSeconds (10)`,
      `${at}: sources[2]: name="Bad Name" is not allowed: expected 1 to 40 lower-case letters, digits or "-", starting with a letter`,
      `${at}: sources[2]: schema="missing.json" is not allowed: expected the path (from the file's directory) of a readable JSON Schema file (cannot read it: ENOENT)`,
      `${at}: sources[2]: webhookSecretEnv="UNSET_SECRET_VARIABLE" is not allowed: expected a variable that is set, and UNSET_SECRET_VARIABLE is unset`,
      `${at}: sources[3] "index": name="index" is not allowed: "index" and "sitemaps" are the page index's own directories`,
      `${at}: sources[3] "index": path="no-slash" is not allowed: expected "/" and 1 to 64 lower-case letters, digits, "_" or "-"`,
      `${at}: sources[3] "index": timeoutMs=60000 is not allowed: expected less than UPDATER_TASK_TIMEOUT_MS (10000)`,
      `${at}: sources[3] "index": webhookSecretEnv="SHORT_SECRET" is not allowed: SHORT_SECRET (5 characters, not shown) must be at least 32 characters, none of them spaces`,
      `${at}: sources[4]: expected an object with at least "name"`,
      `${at}: sources[5] "nullpath": path=null is not allowed: expected "/" and 1 to 64 lower-case letters, digits, "_" or "-"`,
    ]);
  });

  it("refuses two sources with one webhook secret, and memory tiers past the process's", async () => {
    const file = await fileWith({
      sources: [
        { name: 'entries', memoryMaxBytes: 4000 },
        { name: 'products', webhookSecretEnv: 'WEBHOOK_SECRET', memoryMaxBytes: 3000 },
      ],
    });
    const at = `SOURCES_FILE (${file})`;
    expect(problemsOf({ SOURCES_FILE: file, WEBHOOK_SECRET: 's'.repeat(32), MEMORY_TIER_MAX_BYTES: '6000' })).to.deep.equal([
      `${at}: sources[1] "products": its webhook secret is not allowed: source "entries" has the same one, and a call signed for either would be taken by both`,
      `${at}: the sources' memoryMaxBytes add up to 7000, more than MEMORY_TIER_MAX_BYTES (6000), the process's whole memory tier`,
    ]);
  });

  it('masks the credentials of an upstream URL it refuses', async () => {
    const file = await fileWith({ sources: [{ name: 'a', upstreamUrl: 'http://user:hunter2@{id}.example.test/' }] });
    const [line] = problemsOf({ SOURCES_FILE: file });
    expect(line).to.include('upstreamUrl=').and.not.include('hunter2');
  });
});
