// The settings table: every environment variable freshen reads, each written
// once — its kind (schema, allowed words, default), where it goes in Config,
// whether it is secret, and a line for the README. The loader, --print-config,
// the status page and the README's settings table (checked by
// test/settings-table.test.ts) all come from it, in its order.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { DatabaseConfig } from '../../db/knex.js';
import type { ConfigPath, CheckedSetting, Setting } from './kinds.js';
import type { SourcesFile } from './sources.js';
import { address, addressList, directory, integer, number, oneOf, path, plain, seconds } from './kinds.js';
import { isDatabaseUrl, isHost, isSmtpUrl, isUrlTemplate, isUsableFilePath, sqlitePath } from './values.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
export const BUNDLED_SCHEMA = resolve(root, 'demo/schema.json');

/** Refresh work is background work: by default it yields the CPU to requests. */
export const DEFAULT_UPDATER_NICE = 10;

const cores = availableParallelism();

export const SETTINGS = {
  PORT: { at: 'port', ...integer(3000, 0, 65535), about: 'the port the HTTP server listens on' },
  HOST: { at: 'host', ...plain(z.string().refine(isHost), 'a host name or IP address', '127.0.0.1'), about: 'the address the HTTP server listens on' },
  DATABASE_URL: {
    at: 'database',
    schema: z.string().regex(/^(sqlite:(?!\/\/[^/]).+|postgres(ql)?:\/\/.+)$/).refine(isDatabaseUrl),
    allowed: 'sqlite:<file path> or postgres://user:password@host:port/database',
    default: 'sqlite:./data/freshen.sqlite',
    toConfig: (url: string) => parseDatabaseUrl(url),
    show: (database: DatabaseConfig) => database.url,
    secret: 'url',
    status: true,
    about: 'or `postgres://user:password@host:port/database`',
  },
  DATABASE_POOL_MAX: {
    at: 'databasePool.max',
    ...integer(5, 1, 1000),
    status: true,
    about: 'Postgres connections per Koa process (plus one that listens for other nodes’ refreshes; each mailer child opens at most 2 more); SQLite uses one connection for writes and the rest (at least one) for reads by id, which run at once',
  },
  DATABASE_ACQUIRE_TIMEOUT_MS: {
    at: 'databasePool.acquireTimeoutMs',
    ...integer(2000, 100, 600_000),
    about: 'how long a query waits for a free connection (or for the database to accept one) before the request is answered `503`',
  },
  DATABASE_STATEMENT_TIMEOUT_MS: {
    at: 'databasePool.statementTimeoutMs',
    ...integer(10_000, 0, 3_600_000),
    about: "a Postgres statement not answered this long fails on freshen's side (a read is answered from memory or `503`) and its connection is closed, whatever the network or a pooler between does; `0`: no bound (migrations have none)",
  },
  DATABASE_NAMED_STATEMENTS: {
    at: 'databasePool.namedStatements',
    ...oneOf(['off', 'on'], 'off or on', 'off'),
    toConfig: (v: 'off' | 'on') => v === 'on',
    show: (on: boolean) => (on ? 'on' : 'off'),
    about: 'on: Postgres reads by id as a named statement, parsed once per connection; only where connections last (direct, or a pooler in session mode), never behind one in transaction mode',
  },
  WEB_CONCURRENCY: { at: 'webConcurrency', ...integer(1, 1, 64), status: true, about: 'Koa processes under node:cluster, each with its own updater pool' },
  SHUTDOWN_TIMEOUT_SECONDS: {
    at: 'shutdownTimeoutMs',
    ...seconds(10, 0, 600),
    about: 'on SIGTERM/SIGINT, how long requests and refreshes in flight may take to finish (a reader still waiting on a refresh at 80 % of it gets `503`)',
  },
  UPDATER_RUNTIME: {
    at: 'updater.runtime',
    ...oneOf(['thread', 'process'], 'thread (Piscina worker threads) or process (persistent child processes)', 'thread'),
    status: true,
    about: '`thread` (Piscina worker threads) or `process` (persistent child processes, tinypool)',
  },
  UPDATER_MIN_WORKERS: { at: 'updater.minWorkers', ...integer(1, 1, 256), status: true, about: 'updater workers per Koa process, at least' },
  UPDATER_MAX_WORKERS: {
    at: 'updater.maxWorkers',
    ...integer(Math.min(cores, 256), 1, 256),
    defaultText: 'cores',
    status: true,
    about: 'updater workers per Koa process, at most',
  },
  UPDATER_MAX_QUEUE: {
    at: 'updater.maxQueue',
    ...integer(256, 0, 1_000_000),
    status: true,
    about: 'refreshes waiting for a worker; beyond it stale refreshes are skipped and misses answered `503`',
  },
  UPDATER_TASK_TIMEOUT_MS: {
    at: 'updater.taskTimeoutMs',
    ...integer(10_000, 100, 600_000),
    status: true,
    about: 'a miss waits at most this long for its refresh; a task that has run this long is hung and its worker replaced (must exceed `UPSTREAM_TIMEOUT_MS`)',
  },
  UPDATER_TASKS_PER_WORKER: {
    at: 'updater.tasksPerWorker',
    ...integer(8, 1, 1000),
    status: true,
    about: 'refreshes one worker runs at once (they mostly wait on the upstream)',
  },
  UPDATER_NICE: {
    at: 'updater.nice',
    ...integer(DEFAULT_UPDATER_NICE, 0, 19),
    about: 'the scheduling priority (nice, `0`–`19`) of updater workers: refresh work yields the CPU to the thread answering requests; `0` runs it at the server\'s own priority',
  },
  UPSTREAM_URL: {
    at: 'upstream.url',
    ...plain(
      z.string().optional().refine((v) => v === undefined || isUrlTemplate(v)),
      'an http:// or https:// URL with {id} in its path or query (not its host)',
      undefined,
    ),
    secret: 'url',
    unset: 'unset: the bundled demo upstream',
    status: true,
    about: 'URL template with `{id}` in its path or query; the id is URL-encoded',
  },
  UPSTREAM_TIMEOUT_MS: { at: 'upstream.timeoutMs', ...integer(5000, 1, 600_000), status: true, about: 'how long one upstream answer may take' },
  UPSTREAM_MAX_BYTES: { at: 'upstream.maxBytes', ...integer(1_048_576, 1, 1_073_741_824), about: 'the largest upstream answer (a larger one is cut off)' },
  UPSTREAM_SCHEMA: {
    // Whether the file holds a usable schema is checked after parsing (config.ts), to say why not.
    at: 'upstream.schemaPath',
    ...path(z.string(), 'the path of a readable JSON Schema file', BUNDLED_SCHEMA),
    defaultText: '`demo/schema.json`',
    about: 'JSON Schema (draft-07, 2019-09 or 2020-12) the records must satisfy',
  },
  UPSTREAM_CACHE_CONTROL: {
    at: 'upstream.cacheControl',
    ...oneOf(['obey', 'ignore'], 'obey or ignore', 'obey'),
    status: true,
    about: "`obey`: the upstream's `Cache-Control` (`s-maxage`, `max-age`, `no-store`, `stale-while-revalidate`, `stale-if-error`), `Expires` and `Age` set each entry's TTL; `ignore`: the settings below decide alone",
  },
  UPSTREAM_MAX_CONCURRENCY: {
    at: 'upstream.maxConcurrency',
    ...integer(16, 1, 100_000),
    status: true,
    about: 'upstream requests one freshen process has in flight at most; past it, misses wait first and stale or ahead refreshes wait briefly or are dropped (the next read asks again). A fleet sends at most nodes × `WEB_CONCURRENCY` × this',
  },
  UPSTREAM_MAX_RPS: {
    at: 'upstream.maxRps',
    ...integer(0, 0, 100_000),
    status: true,
    about: "upstream requests one freshen process starts in any second at most (misses first; a miss that cannot start within `UPSTREAM_TIMEOUT_MS` is answered `503`); `0`: no cap. For a fleet: the upstream's budget ÷ (nodes × `WEB_CONCURRENCY`)",
  },
  UPSTREAM_BREAKER_FAILURE_PERCENT: {
    at: 'upstream.breakerFailurePercent',
    ...integer(50, 0, 100),
    status: true,
    about: 'the circuit breaker opens when this share of the last refreshes failed for the upstream (5xx, 429, timeouts, refused connections; not 404s or invalid data): no refresh is sent, stale rows are served, misses are answered `503` at once; `0`: never opens',
  },
  UPSTREAM_BREAKER_MIN_ATTEMPTS: {
    at: 'upstream.breakerMinAttempts',
    ...integer(20, 1, 1_000_000),
    about: 'the breaker judges the last this many refreshes a process sent, once there are that many within the window',
  },
  UPSTREAM_BREAKER_WINDOW_SECONDS: { at: 'upstream.breakerWindowMs', ...seconds(10, 1, 3600), about: 'how recent the refreshes the breaker judges must be' },
  UPSTREAM_BREAKER_COOL_OFF_SECONDS: {
    at: 'upstream.breakerCoolOffMs',
    ...seconds(5, 0.1, 3600),
    about: 'an open breaker lets one probe through after this long (one across the fleet); each failed probe doubles the wait',
  },
  UPSTREAM_BREAKER_MAX_COOL_OFF_SECONDS: {
    at: 'upstream.breakerMaxCoolOffMs',
    ...seconds(60, 0.1, 86_400),
    about: "the longest wait between probes, and the longest an upstream's `Retry-After` (on `429` or `503`) holds the breaker open",
  },
  ENTRY_TTL_SECONDS: {
    at: 'entries.ttlMs',
    ...seconds(300, 0, 31_536_000),
    status: true,
    about: "younger rows are fresh (when the upstream's headers say nothing)",
  },
  ENTRY_TTL_MIN_SECONDS: {
    at: 'entries.ttlMinMs',
    ...seconds(1, 0, 31_536_000),
    about: "the shortest TTL the upstream's headers may give an entry",
  },
  ENTRY_TTL_MAX_SECONDS: {
    at: 'entries.ttlMaxMs',
    ...seconds(86_400, 0, 31_536_000),
    about: "the longest TTL the upstream's headers may give an entry",
  },
  ENTRY_REFRESH_AHEAD: {
    at: 'entries.refreshAhead',
    ...number(0, 0, 0.99),
    status: true,
    about: 'a hit on an entry past this fraction of its TTL refreshes it behind the answer, so a steadily read entry never turns stale (`0`: off)',
  },
  ENTRY_NOT_FOUND_TTL_SECONDS: {
    at: 'entries.notFoundTtlMs',
    ...seconds(60, 0, 31_536_000),
    about: "an id the upstream said it does not have is answered `404` from the copy this long, then asked again",
  },
  ENTRY_MAX_STALE_SECONDS: {
    at: 'entries.maxStaleMs',
    ...seconds(86_400, 0, 31_536_000),
    status: true,
    about: 'how long past its TTL an entry may be served stale while it is refreshed, or while refreshing fails (unless the upstream says otherwise: `stale-while-revalidate`, `stale-if-error`); later, a read waits for a refresh; `0`: never stale',
  },
  REFRESH_BACKOFF_MAX_SECONDS: { at: 'entries.backoffMaxMs', ...seconds(300, 1, 86_400), about: 'the longest wait between failing refreshes of one entry' },
  MEMORY_TIER_MAX_BYTES: {
    at: 'entries.memoryMaxBytes',
    ...integer(64 * 1024 * 1024, 0, 64 * 1024 * 1024 * 1024),
    about: 'bytes of hot entries kept in memory per process (`0`: none)',
  },
  SMTP_URL: {
    at: 'mail.smtpUrl',
    ...plain(
      z.string().optional().refine((v) => v === undefined || isSmtpUrl(v)),
      'an smtp:// or smtps:// URL with a host (smtp://user:password@host:port)',
      undefined,
    ),
    secret: 'url',
    unset: 'unset: mail written as .eml files under MAIL_DIR',
    status: true,
    about: '`smtp://` or `smtps://` URL of the mail server',
  },
  SMTP_TIMEOUT_SECONDS: {
    at: 'mail.smtpTimeoutMs',
    ...seconds(5, 0.1, 600),
    about: 'how long a mailer waits for the SMTP server to connect, to greet, and to answer each step of a send',
  },
  MAIL_DIR: { at: 'mail.dir', ...directory('./data/mail'), about: 'where `.eml` files go when `SMTP_URL` is unset' },
  MAIL_FROM: { at: 'mail.from', ...address('freshen@localhost'), about: 'the sender of every message' },
  CONTENT_TEAM: {
    at: 'mail.contentTeam',
    ...addressList(),
    unset: 'empty: no invalid-data notices',
    about: 'comma-separated addresses told about invalid upstream data (when empty, the log says so at start)',
  },
  ADMINS: {
    at: 'mail.admins',
    ...addressList(),
    unset: 'empty: no server-error notices',
    about: 'comma-separated addresses told about server errors (when empty, the log says so at start)',
  },
  MAIL_MAX_PROCS: { at: 'mail.maxProcs', ...integer(2, 1, 64), about: 'mailer child processes at once, per Koa process' },
  MAIL_BATCH_SIZE: { at: 'mail.batchSize', ...integer(50, 1, 10_000), about: 'messages one mailer claims at a time' },
  MAIL_CLAIM_SECONDS: {
    at: 'mail.claimMs',
    ...seconds(60, 1, 86_400),
    about: "a mailer's claim on a message; past it (the mailer died) another mailer takes it",
  },
  MAIL_COOLDOWN_SECONDS: {
    at: 'mail.cooldownMs',
    ...seconds(3600, 0, 31_536_000),
    about: 'one notice per entry and problem (or per error fingerprint) in this window',
  },
  MAIL_MAX_ATTEMPTS: { at: 'mail.maxAttempts', ...integer(8, 1, 100), about: 'delivery tries before a message is marked dead' },
  MAIL_RETRY_MAX_SECONDS: { at: 'mail.retryMaxMs', ...seconds(600, 1, 86_400), about: 'the longest wait between tries of one message (1 s, doubling)' },
  MAIL_SWEEP_SECONDS: { at: 'mail.sweepMs', ...seconds(30, 0.05, 86_400), about: 'how often the server looks for due messages with no new traffic' },
  MAIL_PROCESS_TIMEOUT_SECONDS: {
    at: 'mail.processTimeoutMs',
    ...seconds(300, 1, 86_400),
    about: 'a mailer running longer is killed; its claims expire and are retried',
  },
  OUTBOX_RETENTION_DAYS: {
    at: 'mail.retentionMs',
    ...number(30, 1, 3650),
    toConfig: (days: number) => Math.round(days * 86_400_000),
    show: (ms: number) => ms / 86_400_000,
    about: 'sent and dead messages and mail cool-downs are deleted after this many days (rows with no record: after a day or `ENTRY_MAX_STALE_SECONDS`)',
  },
  PUBLISH_DIR: { at: 'publish.dir', ...directory('./data/pages'), about: "where each entry's static page and the index are published" },
  PUBLISH_INDEX_SECONDS: {
    at: 'publish.indexDelayMs',
    ...seconds(5, 0, 3600),
    about: 'the index shards whose entries changed are rewritten at most this often',
  },
  PUBLISH_INDEX_SHARDS: {
    at: 'publish.indexShards',
    ...integer(256, 1, 65_536),
    about: 'index pages (and sitemaps) the published entries are spread over, by a hash of their ids: a shard page lists at most 50,000 entries and 4 MiB, so allow one shard per ~10,000 entries',
  },
  PUBLISH_REPAIR_SECONDS: {
    at: 'publish.repairEveryMs',
    ...seconds(3600, 0, 604_800),
    about: "how often every stored record's page here is checked against the record and written where missing or of another version (also soon after start; `0`: never)",
  },
  PUBLIC_URL: {
    at: 'publish.publicUrl',
    ...plain(
      z
        .string()
        .regex(/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/)
        .transform((url) => url.replace(/\/+$/, ''))
        .optional(),
      'an http:// or https:// URL with no query, the address clients reach freshen at',
      undefined,
    ),
    unset: 'unset: http://HOST:PORT',
    about: "where clients reach freshen (behind a proxy, its public address): the sitemaps' links are absolute",
  },
  LOG_FILE: {
    at: 'logFile',
    ...path(z.string().min(1).refine(isUsableFilePath), 'a file path in a directory that exists or can be created', './data/access.log'),
    about: 'the access log: one JSON line per request',
  },
  LOG_LEVEL: {
    at: 'logLevel',
    ...oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'one of fatal, error, warn, info, debug, trace, silent', 'info'),
    about: '`fatal` … `trace`, or `silent` (the application log, on stdout)',
  },
  ADMIN_TOKEN: {
    at: 'adminToken',
    ...plain(z.string().regex(/^[\x21-\x7e]{16,}$/).optional(), 'at least 16 characters, none of them spaces', undefined),
    secret: 'value',
    unset: 'unset: admin endpoints answer 404',
    about: 'bearer token (16+ printable characters, no spaces) for `/admin`, the refresh and `/admin/outbox` endpoints',
  },
  WEBHOOK_SECRET: {
    at: 'webhookSecret',
    ...plain(z.string().regex(/^[\x21-\x7e]{32,}$/).optional(), 'at least 32 characters, none of them spaces', undefined),
    secret: 'value',
    unset: 'unset: `/hooks/entries` answers 404',
    about: 'the key (32+ printable characters, no spaces) the upstream signs its purge webhook `POST /hooks/entries` with (HMAC-SHA256)',
  },
  SOURCES_FILE: {
    // The file is read and checked once the other settings are in (config.ts, sources.ts).
    at: 'sources',
    schema: z.string().optional().refine((v) => v === undefined || isUsableFilePath(v)),
    allowed: 'the path of a JSON file listing the sources',
    default: undefined,
    toConfig: (file: string | undefined): SourcesFile | undefined => (file === undefined ? undefined : { file: resolve(file), specs: [] }),
    show: (sources: SourcesFile | undefined) => sources?.file,
    unset: 'unset: one source, `entries` at `/entries`, as the variables above describe',
    status: true,
    about: 'a JSON file of several upstreams, each served at its own path with its own settings (see Several upstreams); what a source does not set comes from the variables above',
  },
  DEMO_LATENCY_MS: { at: 'demo.latencyMs', ...integer(30, 0, 60_000), about: "the bundled demo upstream's delay" },
  DEMO_FAILURE_RATE: { at: 'demo.failureRate', ...number(0, 0, 1), about: "the bundled demo upstream's share of `503`s" },
} satisfies Record<string, CheckedSetting>;

export type SettingName = keyof typeof SETTINGS;

/** The rows in the table's order, as the loader and --print-config walk them. */
export const SETTING_ROWS = Object.entries(SETTINGS) as [SettingName, Setting][];

// Every Config field is set by a setting: a field the table leaves out fails to compile here.
type Unfilled = Exclude<ConfigPath, (typeof SETTINGS)[SettingName]['at']>;
'every Config field is filled' satisfies ([Unfilled] extends [never] ? string : Unfilled);

function parseDatabaseUrl(url: string): DatabaseConfig {
  if (url.startsWith('sqlite:')) {
    return { client: 'sqlite', url, filename: resolve(sqlitePath(url)) };
  }
  return { client: 'postgres', url };
}
