// The one place that reads process.env: every setting is parsed and validated
// here (with zod), defaults applied, and the result frozen. Everything else
// receives the Config object.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { checkSchemaFile, isDatabaseUrl, isHost, isSmtpUrl, isUrlTemplate, isUsableDirectory, isUsableFilePath, maskUrl, sqlitePath } from './values.js';
import type { DatabaseConfig } from '../../db/knex.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
export const BUNDLED_SCHEMA = resolve(root, 'demo/schema.json');

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly database: DatabaseConfig;
  /** Koa processes under node:cluster (1: no cluster). */
  readonly webConcurrency: number;
  /** How long a stop waits for requests and refreshes in flight. */
  readonly shutdownTimeoutMs: number;
  readonly updater: {
    readonly runtime: 'thread' | 'process';
    readonly minWorkers: number;
    readonly maxWorkers: number;
    readonly maxQueue: number;
    readonly taskTimeoutMs: number;
    readonly tasksPerWorker: number;
    /** The nice value workers run at (0: the server's own priority; 19: the lowest). */
    readonly nice: number;
  };
  readonly upstream: {
    /** URL template with `{id}`; undefined means "start the bundled demo upstream". */
    readonly url: string | undefined;
    readonly timeoutMs: number;
    readonly maxBytes: number;
    readonly schemaPath: string;
  };
  readonly entries: {
    readonly ttlMs: number;
    readonly maxStaleMs: number;
    readonly backoffMaxMs: number;
    readonly memoryMaxBytes: number;
  };
  readonly mail: MailConfig;
  readonly publish: {
    readonly dir: string;
    /** The index page is rewritten at most this often while pages change. */
    readonly indexDelayMs: number;
  };
  /** The access log (JSON lines). */
  readonly logFile: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly adminToken: string | undefined;
  readonly demo: { readonly latencyMs: number; readonly failureRate: number };
}

export interface MailConfig {
  /** smtp:// or smtps:// URL; undefined means "write .eml files to dir". */
  readonly smtpUrl: string | undefined;
  readonly dir: string;
  readonly from: string;
  readonly contentTeam: readonly string[];
  readonly admins: readonly string[];
  readonly maxProcs: number;
  readonly batchSize: number;
  readonly claimMs: number;
  readonly cooldownMs: number;
  readonly maxAttempts: number;
  readonly retryMaxMs: number;
  readonly sweepMs: number;
  /** A mailer child running longer than this is killed; its claims expire. */
  readonly processTimeoutMs: number;
}

/** A bad setting: names the variable and what is allowed. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

// Each variable: its schema, and the words for "what is allowed" used in the error line.
function integer(def: number, min: number, max: number) {
  const allowed = `an integer from ${min} to ${max}`;
  return {
    allowed,
    schema: z
      .string()
      .default(String(def))
      .pipe(z.string().regex(/^-?\d+$/))
      .transform(Number)
      .pipe(z.number().int().min(min).max(max)),
  };
}

function number(def: number, min: number, max: number) {
  const allowed = `a number from ${min} to ${max}`;
  return {
    allowed,
    schema: z
      .string()
      .default(String(def))
      .pipe(z.string().regex(/^-?\d+(\.\d+)?$/))
      .transform(Number)
      .pipe(z.number().min(min).max(max)),
  };
}

const cores = availableParallelism();

/** Refresh work is background work: by default it yields the CPU to requests. */
export const DEFAULT_UPDATER_NICE = 10;

// Deliberately loose: `freshen@localhost` is a fine sender on a test box.
const EMAIL = /^[^\s@<>,;:"()[\]]+@[^\s@<>,;:"()[\]]+$/;

function emailList() {
  return {
    allowed: 'a comma-separated list of e-mail addresses (or empty)',
    schema: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((s) => s.trim()).filter((s) => s !== ''))
      .pipe(z.array(z.string().regex(EMAIL))),
  };
}

const variables = {
  PORT: integer(3000, 0, 65535),
  HOST: {
    allowed: 'a host name or IP address',
    schema: z
      .string()
      .default('127.0.0.1')
      .refine(isHost),
  },
  DATABASE_URL: {
    allowed: 'sqlite:<file path> or postgres://user:password@host:port/database',
    schema: z
      .string()
      .default('sqlite:./data/freshen.sqlite')
      .pipe(z.string().regex(/^(sqlite:(?!\/\/[^/]).+|postgres(ql)?:\/\/.+)$/))
      .refine(isDatabaseUrl),
  },
  WEB_CONCURRENCY: integer(1, 1, 64),
  SHUTDOWN_TIMEOUT_SECONDS: number(10, 0, 600),
  UPDATER_RUNTIME: {
    allowed: 'thread (Piscina worker threads) or process (persistent child processes)',
    schema: z.enum(['thread', 'process']).default('thread'),
  },
  UPDATER_MIN_WORKERS: integer(1, 1, 256),
  UPDATER_MAX_WORKERS: integer(Math.min(cores, 256), 1, 256),
  UPDATER_MAX_QUEUE: integer(256, 0, 1_000_000),
  UPDATER_TASK_TIMEOUT_MS: integer(10_000, 100, 600_000),
  UPDATER_TASKS_PER_WORKER: integer(8, 1, 1000),
  UPDATER_NICE: integer(DEFAULT_UPDATER_NICE, 0, 19),
  UPSTREAM_URL: {
    allowed: 'an http:// or https:// URL with {id} in its path or query (not its host)',
    schema: z
      .string()
      .optional()
      .refine((v) => v === undefined || isUrlTemplate(v)),
  },
  UPSTREAM_TIMEOUT_MS: integer(5000, 1, 600_000),
  UPSTREAM_MAX_BYTES: integer(1_048_576, 1, 1_073_741_824),
  UPSTREAM_SCHEMA: {
    allowed: 'the path of a readable JSON Schema file',
    schema: z.string().default(BUNDLED_SCHEMA),
  },
  ENTRY_TTL_SECONDS: number(300, 0, 31_536_000),
  ENTRY_MAX_STALE_SECONDS: number(86_400, 0, 31_536_000),
  REFRESH_BACKOFF_MAX_SECONDS: number(300, 1, 86_400),
  MEMORY_TIER_MAX_BYTES: integer(64 * 1024 * 1024, 0, 64 * 1024 * 1024 * 1024),
  SMTP_URL: {
    allowed: 'an smtp:// or smtps:// URL with a host (smtp://user:password@host:port)',
    schema: z
      .string()
      .optional()
      .refine((v) => v === undefined || isSmtpUrl(v)),
  },
  MAIL_DIR: directory('./data/mail'),
  MAIL_FROM: { allowed: 'an e-mail address', schema: z.string().default('freshen@localhost').pipe(z.string().regex(EMAIL)) },
  CONTENT_TEAM: emailList(),
  ADMINS: emailList(),
  MAIL_MAX_PROCS: integer(2, 1, 64),
  MAIL_BATCH_SIZE: integer(50, 1, 10_000),
  MAIL_CLAIM_SECONDS: number(60, 1, 86_400),
  MAIL_COOLDOWN_SECONDS: number(3600, 0, 31_536_000),
  MAIL_MAX_ATTEMPTS: integer(8, 1, 100),
  MAIL_RETRY_MAX_SECONDS: number(600, 1, 86_400),
  MAIL_SWEEP_SECONDS: number(30, 0.05, 86_400),
  MAIL_PROCESS_TIMEOUT_SECONDS: number(300, 1, 86_400),
  PUBLISH_DIR: directory('./data/pages'),
  PUBLISH_INDEX_SECONDS: number(5, 0, 3600),
  LOG_FILE: {
    allowed: 'a file path in a directory that exists or can be created',
    schema: z.string().min(1).default('./data/access.log').refine(isUsableFilePath),
  },
  LOG_LEVEL: {
    allowed: 'one of fatal, error, warn, info, debug, trace, silent',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  },
  ADMIN_TOKEN: {
    allowed: 'at least 16 characters, none of them spaces',
    schema: z
      .string()
      .regex(/^[\x21-\x7e]{16,}$/)
      .optional(),
  },
  DEMO_LATENCY_MS: integer(30, 0, 60_000),
  DEMO_FAILURE_RATE: number(0, 0, 1),
} as const;

type Vars = { [K in keyof typeof variables]: z.output<(typeof variables)[K]['schema']> };

/** A directory that exists, or that can be created under one that does. */
function directory(def: string) {
  return {
    allowed: 'the path of a directory that exists or can be created',
    schema: z.string().min(1).default(def).refine(isUsableDirectory),
  };
}

/** Parse an environment into a frozen Config; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const vars: Partial<Record<string, unknown>> = {};
  for (const [name, { allowed, schema }] of Object.entries(variables)) {
    // An empty value means "unset", as in most shells' `VAR= cmd`.
    const raw = env[name] === '' ? undefined : env[name];
    const parsed = schema.safeParse(raw);
    if (parsed.success) vars[name] = parsed.data;
    else problems.push(`${name}=${shown(name, raw)} is not allowed: expected ${allowed}`);
  }
  // The checks below run on whatever parsed, so one start lists every problem.
  const p = vars as Partial<Vars>;
  if (
    p.UPDATER_MIN_WORKERS !== undefined &&
    p.UPDATER_MAX_WORKERS !== undefined &&
    p.UPDATER_MIN_WORKERS > p.UPDATER_MAX_WORKERS
  ) {
    const max = env.UPDATER_MAX_WORKERS ? `${p.UPDATER_MAX_WORKERS}` : `${p.UPDATER_MAX_WORKERS}, its default: the number of cores`;
    problems.push(`UPDATER_MIN_WORKERS=${p.UPDATER_MIN_WORKERS} is not allowed: expected at most UPDATER_MAX_WORKERS (${max})`);
  }
  if (
    p.ENTRY_MAX_STALE_SECONDS !== undefined &&
    p.ENTRY_TTL_SECONDS !== undefined &&
    p.ENTRY_MAX_STALE_SECONDS < p.ENTRY_TTL_SECONDS
  ) {
    problems.push(
      `ENTRY_MAX_STALE_SECONDS=${p.ENTRY_MAX_STALE_SECONDS} is not allowed: expected at least ENTRY_TTL_SECONDS (${p.ENTRY_TTL_SECONDS})`,
    );
  }
  const schemaProblem = p.UPSTREAM_SCHEMA === undefined ? undefined : checkSchemaFile(p.UPSTREAM_SCHEMA);
  if (schemaProblem) {
    problems.push(
      `UPSTREAM_SCHEMA=${JSON.stringify(p.UPSTREAM_SCHEMA)} is not allowed: expected ${variables.UPSTREAM_SCHEMA.allowed} (${schemaProblem})`,
    );
  }
  if (
    p.UPDATER_TASK_TIMEOUT_MS !== undefined &&
    p.UPSTREAM_TIMEOUT_MS !== undefined &&
    p.UPDATER_TASK_TIMEOUT_MS <= p.UPSTREAM_TIMEOUT_MS
  ) {
    // A refresh is killed at the task timeout with its worker (and that worker's
    // other refreshes): only a hung worker should ever reach it.
    problems.push(
      `UPDATER_TASK_TIMEOUT_MS=${p.UPDATER_TASK_TIMEOUT_MS} is not allowed: expected more than UPSTREAM_TIMEOUT_MS (${p.UPSTREAM_TIMEOUT_MS})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const v = vars as Vars;

  const config: Config = {
    port: v.PORT,
    host: v.HOST,
    database: parseDatabaseUrl(v.DATABASE_URL),
    webConcurrency: v.WEB_CONCURRENCY,
    shutdownTimeoutMs: Math.round(v.SHUTDOWN_TIMEOUT_SECONDS * 1000),
    updater: {
      runtime: v.UPDATER_RUNTIME,
      minWorkers: v.UPDATER_MIN_WORKERS,
      maxWorkers: v.UPDATER_MAX_WORKERS,
      maxQueue: v.UPDATER_MAX_QUEUE,
      taskTimeoutMs: v.UPDATER_TASK_TIMEOUT_MS,
      tasksPerWorker: v.UPDATER_TASKS_PER_WORKER,
      nice: v.UPDATER_NICE,
    },
    upstream: {
      url: v.UPSTREAM_URL,
      timeoutMs: v.UPSTREAM_TIMEOUT_MS,
      maxBytes: v.UPSTREAM_MAX_BYTES,
      schemaPath: resolve(v.UPSTREAM_SCHEMA),
    },
    entries: {
      ttlMs: Math.round(v.ENTRY_TTL_SECONDS * 1000),
      maxStaleMs: Math.round(v.ENTRY_MAX_STALE_SECONDS * 1000),
      backoffMaxMs: Math.round(v.REFRESH_BACKOFF_MAX_SECONDS * 1000),
      memoryMaxBytes: v.MEMORY_TIER_MAX_BYTES,
    },
    mail: {
      smtpUrl: v.SMTP_URL,
      dir: resolve(v.MAIL_DIR),
      from: v.MAIL_FROM,
      contentTeam: v.CONTENT_TEAM,
      admins: v.ADMINS,
      maxProcs: v.MAIL_MAX_PROCS,
      batchSize: v.MAIL_BATCH_SIZE,
      claimMs: Math.round(v.MAIL_CLAIM_SECONDS * 1000),
      cooldownMs: Math.round(v.MAIL_COOLDOWN_SECONDS * 1000),
      maxAttempts: v.MAIL_MAX_ATTEMPTS,
      retryMaxMs: Math.round(v.MAIL_RETRY_MAX_SECONDS * 1000),
      sweepMs: Math.round(v.MAIL_SWEEP_SECONDS * 1000),
      processTimeoutMs: Math.round(v.MAIL_PROCESS_TIMEOUT_SECONDS * 1000),
    },
    publish: { dir: resolve(v.PUBLISH_DIR), indexDelayMs: Math.round(v.PUBLISH_INDEX_SECONDS * 1000) },
    logFile: resolve(v.LOG_FILE),
    logLevel: v.LOG_LEVEL,
    adminToken: v.ADMIN_TOKEN,
    demo: { latencyMs: v.DEMO_LATENCY_MS, failureRate: v.DEMO_FAILURE_RATE },
  };
  return deepFreeze(config);
}

// A problem line goes to stderr and the logs: it must not repeat a secret.
function shown(name: string, raw: string | undefined): string {
  if (raw === undefined) return '(unset)';
  if (name === 'ADMIN_TOKEN') return `(${raw.length} characters, not shown)`;
  if (name.endsWith('_URL')) return JSON.stringify(maskUrl(raw));
  return JSON.stringify(raw);
}

function parseDatabaseUrl(url: string): DatabaseConfig {
  if (url.startsWith('sqlite:')) {
    return { client: 'sqlite', url, filename: resolve(sqlitePath(url)) };
  }
  return { client: 'postgres', url };
}

/** The settings as an operator reads them: every variable, secrets masked. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    PORT: config.port,
    HOST: config.host,
    DATABASE_URL: maskUrl(config.database.url),
    WEB_CONCURRENCY: config.webConcurrency,
    SHUTDOWN_TIMEOUT_SECONDS: config.shutdownTimeoutMs / 1000,
    UPDATER_RUNTIME: config.updater.runtime,
    UPDATER_MIN_WORKERS: config.updater.minWorkers,
    UPDATER_MAX_WORKERS: config.updater.maxWorkers,
    UPDATER_MAX_QUEUE: config.updater.maxQueue,
    UPDATER_TASK_TIMEOUT_MS: config.updater.taskTimeoutMs,
    UPDATER_TASKS_PER_WORKER: config.updater.tasksPerWorker,
    UPDATER_NICE: config.updater.nice,
    UPSTREAM_URL: config.upstream.url ? maskUrl(config.upstream.url) : '(unset: the bundled demo upstream)',
    UPSTREAM_TIMEOUT_MS: config.upstream.timeoutMs,
    UPSTREAM_MAX_BYTES: config.upstream.maxBytes,
    UPSTREAM_SCHEMA: config.upstream.schemaPath,
    ENTRY_TTL_SECONDS: config.entries.ttlMs / 1000,
    ENTRY_MAX_STALE_SECONDS: config.entries.maxStaleMs / 1000,
    REFRESH_BACKOFF_MAX_SECONDS: config.entries.backoffMaxMs / 1000,
    MEMORY_TIER_MAX_BYTES: config.entries.memoryMaxBytes,
    SMTP_URL: config.mail.smtpUrl ? maskUrl(config.mail.smtpUrl) : `(unset: mail written as .eml files under MAIL_DIR)`,
    MAIL_DIR: config.mail.dir,
    MAIL_FROM: config.mail.from,
    CONTENT_TEAM: config.mail.contentTeam.join(',') || '(empty: no invalid-data notices)',
    ADMINS: config.mail.admins.join(',') || '(empty: no server-error notices)',
    MAIL_MAX_PROCS: config.mail.maxProcs,
    MAIL_BATCH_SIZE: config.mail.batchSize,
    MAIL_CLAIM_SECONDS: config.mail.claimMs / 1000,
    MAIL_COOLDOWN_SECONDS: config.mail.cooldownMs / 1000,
    MAIL_MAX_ATTEMPTS: config.mail.maxAttempts,
    MAIL_RETRY_MAX_SECONDS: config.mail.retryMaxMs / 1000,
    MAIL_SWEEP_SECONDS: config.mail.sweepMs / 1000,
    MAIL_PROCESS_TIMEOUT_SECONDS: config.mail.processTimeoutMs / 1000,
    PUBLISH_DIR: config.publish.dir,
    PUBLISH_INDEX_SECONDS: config.publish.indexDelayMs / 1000,
    LOG_FILE: config.logFile,
    LOG_LEVEL: config.logLevel,
    ADMIN_TOKEN: config.adminToken ? '********' : '(unset: admin endpoints answer 404)',
    DEMO_LATENCY_MS: config.demo.latencyMs,
    DEMO_FAILURE_RATE: config.demo.failureRate,
  };
}

function deepFreeze<T>(value: T): T {
  for (const inner of Object.values(value as object)) {
    if (inner && typeof inner === 'object') deepFreeze(inner);
  }
  return Object.freeze(value);
}

/** For command-line entries: the config, or undefined after printing each problem on stderr. */
export function loadConfigForCli(env: NodeJS.ProcessEnv = process.env): Config | undefined {
  try {
    return loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`freshen: ${problem}\n`);
    return undefined;
  }
}
