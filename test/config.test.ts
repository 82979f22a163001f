// Settings are read from the environment once, at start: defaults applied,
// every bad value refused with a line naming the variable and what is
// allowed, the result frozen, secrets masked when it is shown.
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BUNDLED_SCHEMA, ConfigError, describeConfig, loadConfig } from '../server/config/config.js';

/** The problem lines loadConfig throws for an environment; fails the test if it does not throw a ConfigError. */
function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect((err as ConfigError).message).to.equal(problems.join('\n'));
    return problems;
  }
  expect.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

const integer = (min: number, max: number) => `expected an integer from ${min} to ${max}`;

/** The file a sqlite: DATABASE_URL names. */
function sqliteFile(url: string): string | undefined {
  const { database } = loadConfig({ DATABASE_URL: url });
  expect(database.client).to.equal('sqlite');
  expect(database.url).to.equal(url);
  return database.client === 'sqlite' ? database.filename : undefined;
}

describe('settings are checked once at start', () => {
  let dir: string;
  let notJson: string;
  let notASchema: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'freshen-config-'));
    notJson = join(dir, 'not-json.json');
    notASchema = join(dir, 'not-a-schema.json');
    await writeFile(notJson, 'not json');
    await writeFile(notASchema, '{"type": 12}');
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).to.deep.equal({
      port: 3000,
      host: '127.0.0.1',
      database: {
        client: 'sqlite',
        url: 'sqlite:./data/freshen.sqlite',
        filename: resolve('data/freshen.sqlite'),
      },
      databasePool: { max: 5, acquireTimeoutMs: 2000, statementTimeoutMs: 10_000, namedStatements: false },
      webConcurrency: 1,
      shutdownTimeoutMs: 10_000,
      updater: {
        runtime: 'thread',
        minWorkers: 1,
        maxWorkers: availableParallelism(),
        maxQueue: 256,
        taskTimeoutMs: 10_000,
        tasksPerWorker: 8,
        nice: 10,
      },
      upstream: {
        url: undefined,
        timeoutMs: 5000,
        maxBytes: 1_048_576,
        schemaPath: BUNDLED_SCHEMA,
        cacheControl: 'obey',
        maxConcurrency: 16,
        maxRps: 0,
        breakerFailurePercent: 50,
        breakerMinAttempts: 20,
        breakerWindowMs: 10_000,
        breakerCoolOffMs: 5000,
        breakerMaxCoolOffMs: 60_000,
      },
      entries: {
        ttlMs: 300_000,
        ttlMinMs: 1000,
        ttlMaxMs: 86_400_000,
        refreshAhead: 0,
        notFoundTtlMs: 60_000,
        maxStaleMs: 86_400_000,
        backoffMaxMs: 300_000,
        memoryMaxBytes: 67_108_864,
      },
      mail: {
        smtpUrl: undefined,
        smtpTimeoutMs: 5000,
        dir: resolve('data/mail'),
        from: 'freshen@localhost',
        contentTeam: [],
        admins: [],
        maxProcs: 2,
        batchSize: 50,
        claimMs: 60_000,
        cooldownMs: 3_600_000,
        maxAttempts: 8,
        retryMaxMs: 600_000,
        sweepMs: 30_000,
        processTimeoutMs: 300_000,
        retentionMs: 30 * 86_400_000,
      },
      publish: { dir: resolve('data/pages'), indexDelayMs: 5000, indexShards: 256, repairEveryMs: 3_600_000, publicUrl: undefined },
      logFile: resolve('data/access.log'),
      logLevel: 'info',
      adminToken: undefined,
      webhookSecret: undefined,
      sources: undefined,
      demo: { latencyMs: 30, failureRate: 0 },
    });
  });

  it('treats an empty value as unset', () => {
    const config = loadConfig({ HOST: '', PORT: '', UPSTREAM_URL: '', ADMIN_TOKEN: '' });
    expect(config.host).to.equal('127.0.0.1');
    expect(config.port).to.equal(3000);
    expect(config.upstream.url).to.equal(undefined);
    expect(config.adminToken).to.equal(undefined);
  });

  it('returns a config frozen all the way down', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@h/db' });
    for (const part of [config, config.database, config.updater, config.upstream, config.entries, config.mail, config.mail.admins, config.demo]) {
      expect(Object.isFrozen(part)).to.equal(true);
    }
    expect(() => {
      (config.updater as { maxQueue: number }).maxQueue = 1;
    }).to.throw(TypeError);
    expect(config.updater.maxQueue).to.equal(256);
  });

  it('accepts good values of every kind', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '::1',
      DATABASE_URL: 'postgresql://u:p@db.example.test:5433/freshen',
      UPDATER_MIN_WORKERS: '2',
      UPDATER_MAX_WORKERS: '2',
      UPSTREAM_URL: 'https://api.example.test/items/{id}?full=1',
      ENTRY_TTL_SECONDS: '0.5',
      ENTRY_MAX_STALE_SECONDS: '0.5',
      LOG_LEVEL: 'silent',
      ADMIN_TOKEN: 'sixteen-chars-ok',
      DEMO_FAILURE_RATE: '0.25',
      // With SMTP, the default claim and shutdown fit the default SMTP timeout.
      SMTP_URL: 'smtp://mail.example.test',
      // One refresh per worker: a record of 20 MB fits its heap.
      UPSTREAM_MAX_BYTES: '20000000',
      UPDATER_TASKS_PER_WORKER: '1',
    });
    expect(config.port).to.equal(0);
    expect(config.host).to.equal('::1');
    expect(config.database).to.deep.equal({ client: 'postgres', url: 'postgresql://u:p@db.example.test:5433/freshen' });
    expect(config.upstream.url).to.equal('https://api.example.test/items/{id}?full=1');
    expect(config.entries.ttlMs).to.equal(500);
    expect(config.adminToken).to.equal('sixteen-chars-ok');
    expect(config.demo.failureRate).to.equal(0.25);
  });

  // Each row: the environment, the variable the problem line must start with,
  // and the words for what is allowed that it must contain.
  const upstreamUrl = 'expected an http:// or https:// URL with {id} in its path or query (not its host)';
  const schemaFile = 'expected the path of a readable JSON Schema file';
  // Rows name the temp files made in before() by placeholder; the test puts the path in.
  const NOT_JSON = '<a file holding "not json">';
  const NOT_A_SCHEMA = '<a file holding {"type": 12}>';
  const A_FILE = '<a plain file>';
  const withFiles = (env: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(env).map(([k, v]) => [
        k,
        v.replaceAll(NOT_JSON, notJson).replaceAll(NOT_A_SCHEMA, notASchema).replaceAll(A_FILE, notJson),
      ]),
    );
  const refused: Array<{ env: Record<string, string>; name: string; allowed: string }> = [
    { env: { PORT: 'abc' }, name: 'PORT', allowed: integer(0, 65535) },
    { env: { PORT: '70000' }, name: 'PORT', allowed: integer(0, 65535) },
    { env: { PORT: '-1' }, name: 'PORT', allowed: integer(0, 65535) },
    { env: { UPDATER_MIN_WORKERS: '0' }, name: 'UPDATER_MIN_WORKERS', allowed: integer(1, 256) },
    { env: { UPDATER_MAX_WORKERS: 'two' }, name: 'UPDATER_MAX_WORKERS', allowed: integer(1, 256) },
    { env: { UPDATER_MAX_QUEUE: '-5' }, name: 'UPDATER_MAX_QUEUE', allowed: integer(0, 1_000_000) },
    { env: { UPDATER_TASK_TIMEOUT_MS: '1.5' }, name: 'UPDATER_TASK_TIMEOUT_MS', allowed: integer(100, 600_000) },
    { env: { UPSTREAM_URL: 'ftp://x/{id}' }, name: 'UPSTREAM_URL', allowed: upstreamUrl },
    { env: { UPSTREAM_URL: 'http://example.test/items' }, name: 'UPSTREAM_URL', allowed: upstreamUrl },
    { env: { UPSTREAM_URL: 'http://{id}.example.test/' }, name: 'UPSTREAM_URL', allowed: upstreamUrl },
    { env: { UPSTREAM_TIMEOUT_MS: '0' }, name: 'UPSTREAM_TIMEOUT_MS', allowed: integer(1, 600_000) },
    { env: { UPSTREAM_MAX_BYTES: 'lots' }, name: 'UPSTREAM_MAX_BYTES', allowed: integer(1, 1_073_741_824) },
    { env: { UPSTREAM_SCHEMA: '/nonexistent/schema.json' }, name: 'UPSTREAM_SCHEMA', allowed: schemaFile },
    { env: { UPSTREAM_SCHEMA: NOT_JSON }, name: 'UPSTREAM_SCHEMA', allowed: schemaFile },
    { env: { UPSTREAM_SCHEMA: NOT_A_SCHEMA }, name: 'UPSTREAM_SCHEMA', allowed: schemaFile },
    {
      env: { DATABASE_URL: 'mysql://x' },
      name: 'DATABASE_URL',
      allowed: 'expected sqlite:<file path> or postgres://user:password@host:port/database',
    },
    { env: { ENTRY_TTL_SECONDS: '-1' }, name: 'ENTRY_TTL_SECONDS', allowed: 'expected a number from 0 to 31536000' },
    {
      env: { LOG_LEVEL: 'loud' },
      name: 'LOG_LEVEL',
      allowed: 'expected one of fatal, error, warn, info, debug, trace, silent',
    },
    { env: { ADMIN_TOKEN: 'short' }, name: 'ADMIN_TOKEN', allowed: 'expected at least 16 characters' },
    { env: { ADMIN_TOKEN: 'a token with spaces in it' }, name: 'ADMIN_TOKEN', allowed: 'none of them spaces' },
    { env: { WEBHOOK_SECRET: 'only-twenty-characters' }, name: 'WEBHOOK_SECRET', allowed: 'expected at least 32 characters' },
    { env: { HOST: 'not a host!' }, name: 'HOST', allowed: 'expected a host name or IP address' },
    { env: { HOST: ' ' }, name: 'HOST', allowed: 'expected a host name or IP address' },
    { env: { HOST: '999.1.1.1' }, name: 'HOST', allowed: 'expected a host name or IP address' },
    { env: { DATABASE_URL: 'postgres://u:pw@' }, name: 'DATABASE_URL', allowed: 'expected sqlite:<file path> or postgres://' },
    // A recursive mkdir under /proc never returns: these must be refused, not tried.
    { env: { DATABASE_URL: 'sqlite:/proc/nope/x.sqlite' }, name: 'DATABASE_URL', allowed: 'expected sqlite:<file path> or postgres://' },
    { env: { DATABASE_URL: `sqlite:${A_FILE}/x.sqlite` }, name: 'DATABASE_URL', allowed: 'expected sqlite:<file path> or postgres://' },
    { env: { LOG_FILE: '/proc/x/log' }, name: 'LOG_FILE', allowed: 'expected a file path in a directory that exists or can be created' },
    { env: { LOG_FILE: `${A_FILE}/access.log` }, name: 'LOG_FILE', allowed: 'expected a file path in a directory that exists or can be created' },
    { env: { LOG_FILE: tmpdir() }, name: 'LOG_FILE', allowed: 'expected a file path in a directory that exists or can be created' },
    { env: { SMTP_URL: 'smtp://127.0.0.1:99999' }, name: 'SMTP_URL', allowed: 'expected an smtp:// or smtps:// URL with a host' },
    { env: { SMTP_URL: 'smtps://user:secret@' }, name: 'SMTP_URL', allowed: 'expected an smtp:// or smtps:// URL with a host' },
    {
      env: { UPSTREAM_TIMEOUT_MS: '5000', UPDATER_TASK_TIMEOUT_MS: '5000' },
      name: 'UPDATER_TASK_TIMEOUT_MS',
      allowed: 'expected more than UPSTREAM_TIMEOUT_MS (5000)',
    },
    { env: { PUBLISH_DIR: A_FILE }, name: 'PUBLISH_DIR', allowed: 'expected the path of a directory that exists or can be created' },
    { env: { PUBLISH_DIR: '/proc/freshen-pages' }, name: 'PUBLISH_DIR', allowed: 'expected the path of a directory that exists or can be created' },
    { env: { MAIL_DIR: `${A_FILE}/mail` }, name: 'MAIL_DIR', allowed: 'expected the path of a directory that exists or can be created' },
    {
      env: { UPDATER_RUNTIME: 'fibers' },
      name: 'UPDATER_RUNTIME',
      allowed: 'expected thread (Piscina worker threads) or process (persistent child processes)',
    },
    { env: { UPDATER_TASKS_PER_WORKER: '0' }, name: 'UPDATER_TASKS_PER_WORKER', allowed: integer(1, 1000) },
    { env: { UPDATER_NICE: '20' }, name: 'UPDATER_NICE', allowed: integer(0, 19) },
    { env: { UPDATER_NICE: '-5' }, name: 'UPDATER_NICE', allowed: integer(0, 19) },
    { env: { UPDATER_MAX_WORKERS: '257' }, name: 'UPDATER_MAX_WORKERS', allowed: integer(1, 256) },
    { env: { WEB_CONCURRENCY: '0' }, name: 'WEB_CONCURRENCY', allowed: integer(1, 64) },
    { env: { WEB_CONCURRENCY: 'auto' }, name: 'WEB_CONCURRENCY', allowed: integer(1, 64) },
    { env: { SHUTDOWN_TIMEOUT_SECONDS: '-3' }, name: 'SHUTDOWN_TIMEOUT_SECONDS', allowed: 'expected a number from 0 to 600' },
    { env: { MAIL_MAX_PROCS: '0' }, name: 'MAIL_MAX_PROCS', allowed: integer(1, 64) },
    { env: { MAIL_BATCH_SIZE: 'many' }, name: 'MAIL_BATCH_SIZE', allowed: integer(1, 10_000) },
    { env: { SMTP_URL: 'http://mail.example.test' }, name: 'SMTP_URL', allowed: 'expected an smtp:// or smtps:// URL' },
    {
      env: { CONTENT_TEAM: 'team@example.test, not-an-address' },
      name: 'CONTENT_TEAM',
      allowed: 'expected a comma-separated list of e-mail addresses (or empty)',
    },
    {
      env: { UPDATER_MIN_WORKERS: '4', UPDATER_MAX_WORKERS: '2' },
      name: 'UPDATER_MIN_WORKERS',
      allowed: 'expected at most UPDATER_MAX_WORKERS (2)',
    },
    {
      env: { ENTRY_TTL_MIN_SECONDS: '600', ENTRY_TTL_MAX_SECONDS: '60' },
      name: 'ENTRY_TTL_MIN_SECONDS',
      allowed: 'expected at most ENTRY_TTL_MAX_SECONDS (60)',
    },
    { env: { UPSTREAM_CACHE_CONTROL: 'sometimes' }, name: 'UPSTREAM_CACHE_CONTROL', allowed: 'expected obey or ignore' },
    { env: { UPSTREAM_MAX_RPS: '-5' }, name: 'UPSTREAM_MAX_RPS', allowed: integer(0, 100_000) },
    { env: { UPSTREAM_MAX_CONCURRENCY: '0' }, name: 'UPSTREAM_MAX_CONCURRENCY', allowed: integer(1, 100_000) },
    { env: { UPSTREAM_BREAKER_FAILURE_PERCENT: '150' }, name: 'UPSTREAM_BREAKER_FAILURE_PERCENT', allowed: integer(0, 100) },
    {
      env: { UPSTREAM_BREAKER_COOL_OFF_SECONDS: '120', UPSTREAM_BREAKER_MAX_COOL_OFF_SECONDS: '60' },
      name: 'UPSTREAM_BREAKER_COOL_OFF_SECONDS',
      allowed: 'expected at most UPSTREAM_BREAKER_MAX_COOL_OFF_SECONDS (60)',
    },
    { env: { ENTRY_REFRESH_AHEAD: '1' }, name: 'ENTRY_REFRESH_AHEAD', allowed: 'expected a number from 0 to 0.99' },
    // A claim that expires mid-send: another mailer sends the message again.
    {
      env: { SMTP_URL: 'smtp://mail.example.test', SMTP_TIMEOUT_SECONDS: '30', MAIL_CLAIM_SECONDS: '60', SHUTDOWN_TIMEOUT_SECONDS: '60' },
      name: 'MAIL_CLAIM_SECONDS',
      allowed: 'expected more than 3 × SMTP_TIMEOUT_SECONDS (90)',
    },
    // A stopping mailer killed before it can finish the message in hand.
    {
      env: { SMTP_URL: 'smtp://mail.example.test', SHUTDOWN_TIMEOUT_SECONDS: '5' },
      name: 'SHUTDOWN_TIMEOUT_SECONDS',
      allowed: 'expected at least 2 × SMTP_TIMEOUT_SECONDS (10)',
    },
    // Eight records of 16 MiB at once, at worst 24 bytes of heap per byte: past a worker's 512 MiB.
    {
      env: { UPSTREAM_MAX_BYTES: String(16 * 1024 * 1024) },
      name: 'UPSTREAM_MAX_BYTES',
      allowed: "expected at most 2796202, what a worker's 512 MiB heap holds for UPDATER_TASKS_PER_WORKER (8) records at once",
    },
  ];

  for (const { env, name, allowed } of refused) {
    const label = Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    it(`refuses ${label} with a line naming ${name} and what is allowed`, () => {
      const problems = problemsOf(withFiles(env));
      expect(problems).to.have.length(1);
      const line = problems[0] as string;
      expect(line.startsWith(`${name}=`), line).to.equal(true);
      expect(line).to.include(' is not allowed: ');
      expect(line).to.include(allowed);
      expect(line).not.to.include('\n');
    });
  }

  it('lists every bad value at once, including the schema file and cross-field checks', () => {
    const problems = problemsOf({
      PORT: 'abc',
      UPDATER_MAX_QUEUE: '-5',
      LOG_LEVEL: 'loud',
      UPSTREAM_URL: 'ftp://x/{id}',
      UPSTREAM_SCHEMA: '/nonexistent/schema.json',
      ENTRY_TTL_MIN_SECONDS: '600',
      ENTRY_TTL_MAX_SECONDS: '60',
    });
    expect(problems.map((line) => line.slice(0, line.indexOf('=')))).to.have.members([
      'PORT',
      'UPDATER_MAX_QUEUE',
      'UPSTREAM_URL',
      'UPSTREAM_SCHEMA',
      'ENTRY_TTL_MIN_SECONDS',
      'LOG_LEVEL',
    ]);
  });

  it('does not repeat a secret in the line that refuses it', () => {
    const [token] = problemsOf({ ADMIN_TOKEN: 'tooshortsecret' });
    expect(token).to.match(/^ADMIN_TOKEN=/);
    expect(token).not.to.include('tooshortsecret');
    const [database] = problemsOf({ DATABASE_URL: 'mysql://u:hunter2@db.example.test/freshen' });
    expect(database).to.match(/^DATABASE_URL=/);
    expect(database).not.to.include('hunter2');
  });

  it('reads sqlite:/abs, sqlite:///abs and sqlite:./rel as file paths', () => {
    expect(sqliteFile('sqlite:/srv/freshen/one.sqlite')).to.equal('/srv/freshen/one.sqlite');
    expect(sqliteFile('sqlite:///srv/freshen/two.sqlite')).to.equal('/srv/freshen/two.sqlite');
    expect(sqliteFile('sqlite:./var/three.sqlite')).to.equal(resolve(process.cwd(), 'var/three.sqlite'));
    expect(sqliteFile('sqlite:var/four.sqlite')).to.equal(resolve(process.cwd(), 'var/four.sqlite'));
  });

  it('describes every setting with the admin token and passwords masked', () => {
    const config = loadConfig({
      ADMIN_TOKEN: 'admin-token-0123456789',
      WEBHOOK_SECRET: 'webhook-key-0123456789-0123456789',
      DATABASE_URL: 'postgres://u:secret@h/db',
      UPSTREAM_URL: 'https://reader:upsecret@api.example.test/items/{id}',
    });
    const described = describeConfig(config);
    const shown = JSON.stringify(described);
    expect(shown).not.to.include('secret');
    expect(shown).not.to.include('admin-token-0123456789');
    expect(shown).not.to.include('webhook-key');
    expect(described.WEBHOOK_SECRET).to.equal('********');
    expect(described.DATABASE_URL).to.equal('postgres://u:********@h/db');
    expect(described.UPSTREAM_URL).to.equal('https://reader:********@api.example.test/items/{id}');
    expect(described.ADMIN_TOKEN).to.equal('********');
    expect(described.ENTRY_TTL_SECONDS).to.equal(300);
  });

  it('masks credentials in a URL query too', () => {
    const described = describeConfig(
      loadConfig({
        UPSTREAM_URL: 'https://api.example.test/items/{id}?api_key=SECRETKEY123&full=1',
        DATABASE_URL: 'postgres://h/db?password=hunter2',
      }),
    );
    expect(JSON.stringify(described)).not.to.include('SECRETKEY123');
    expect(JSON.stringify(described)).not.to.include('hunter2');
    expect(described.UPSTREAM_URL).to.equal('https://api.example.test/items/{id}?api_key=********&full=1');
  });

  it('masks a user name with no password (a token) and access or session parameters', () => {
    const token = describeConfig(loadConfig({ UPSTREAM_URL: 'https://ghp_secret123@api.example.test/items/{id}' }));
    expect(token.UPSTREAM_URL).to.equal('https://********@api.example.test/items/{id}');
    const query = describeConfig(loadConfig({ UPSTREAM_URL: 'https://api.example.test/items/{id}?access=abc123&session=s3cr3t' }));
    expect(JSON.stringify(query)).not.to.match(/abc123|s3cr3t/);
  });
});
