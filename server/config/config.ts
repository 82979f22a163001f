// The one place that reads process.env: every setting of the table
// (settings.ts) is parsed and validated, defaults applied, the checks that
// span settings run, and the result frozen. Everything else receives the
// Config object; describeConfig shows it back in the variables' terms.
import { maskUrl } from '../../shared/mask-url.js';
import { checkSchemaFile } from './values.js';
import type { DatabaseConfig, DatabasePool } from '../../db/knex.js';
import { mostRecordBytes, WORKER_HEAP_MB } from '../../workers/protocol.js';
import type { z } from 'zod';
import type { Setting, Shown } from './kinds.js';
import { SETTING_ROWS, SETTINGS, type SettingName } from './settings.js';
import { readSourcesFile, type SourcesFile } from './sources.js';

export { BUNDLED_SCHEMA, DEFAULT_UPDATER_NICE } from './settings.js';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly database: DatabaseConfig;
  readonly databasePool: DatabasePool;
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
    /** obey: the upstream's Cache-Control and Expires set each entry's TTL. */
    readonly cacheControl: 'obey' | 'ignore';
    /** Upstream requests in flight, and started per second (0: no cap), per process. */
    readonly maxConcurrency: number;
    readonly maxRps: number;
    /** The circuit breaker: the failed share (0: off) of at least breakerMinAttempts refreshes in the window that opens it. */
    readonly breakerFailurePercent: number;
    readonly breakerMinAttempts: number;
    readonly breakerWindowMs: number;
    /** The first wait before a probe, doubled by each failed probe up to the longest. */
    readonly breakerCoolOffMs: number;
    readonly breakerMaxCoolOffMs: number;
  };
  readonly entries: {
    readonly ttlMs: number;
    /** Bounds of a TTL the upstream's headers give. */
    readonly ttlMinMs: number;
    readonly ttlMaxMs: number;
    /** A hit past this fraction of the TTL refreshes ahead (0: off). */
    readonly refreshAhead: number;
    readonly notFoundTtlMs: number;
    readonly maxStaleMs: number;
    readonly backoffMaxMs: number;
    readonly memoryMaxBytes: number;
  };
  readonly mail: MailConfig;
  readonly publish: {
    readonly dir: string;
    /** Changed index shards are rewritten at most this often. */
    readonly indexDelayMs: number;
    readonly indexShards: number;
    /** Between sweeps of the page repair (0: only after start). */
    readonly repairEveryMs: number;
    /** Where clients reach freshen; undefined: http://HOST:PORT. */
    readonly publicUrl: string | undefined;
  };
  /** The access log (JSON lines). */
  readonly logFile: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly adminToken: string | undefined;
  /** WEBHOOK_SECRET: the key the upstream signs its webhook calls with; unset, it has none. */
  readonly webhookSecret: string | undefined;
  /** SOURCES_FILE, read and checked; undefined: the env vars describe the one source, `entries`. */
  readonly sources: SourcesFile | undefined;
  readonly demo: { readonly latencyMs: number; readonly failureRate: number };
}

export interface MailConfig {
  /** smtp:// or smtps:// URL; undefined means "write .eml files to dir". */
  readonly smtpUrl: string | undefined;
  readonly smtpTimeoutMs: number;
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
  /** Sent and dead messages and cool-downs are deleted after this. */
  readonly retentionMs: number;
}

/** A bad setting: names the variable and what is allowed. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

type Values = { [N in SettingName]: z.output<(typeof SETTINGS)[N]['schema']> };

/** Parse an environment into a frozen Config; throws ConfigError listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const [name, setting] of SETTING_ROWS) {
    // An empty value means "unset", as in most shells' `VAR= cmd`.
    const raw = env[name] === '' ? undefined : env[name];
    const parsed = setting.schema.safeParse(raw ?? setting.default);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(`${name}=${shown(setting, raw)} is not allowed: expected ${setting.allowed}`);
  }
  // The checks below run on whatever parsed, so one start lists every problem.
  problems.push(...crossChecks(values as Partial<Values>, env));
  if (problems.length > 0) throw new ConfigError(problems);

  const config: Record<string, unknown> = {};
  for (const [name, setting] of SETTING_ROWS) {
    const [field, inner] = placeOf(setting);
    const value = setting.toConfig(values[name]);
    if (inner === undefined) config[field] = value;
    else ((config[field] ??= {}) as Record<string, unknown>)[inner] = value;
  }
  // The sources are checked against the settings they default to.
  const sources = config.sources as SourcesFile | undefined;
  if (sources !== undefined) {
    const read = readSourcesFile(sources.file, config as unknown as Config, env);
    if ('problems' in read) throw new ConfigError(read.problems);
    config.sources = { file: sources.file, specs: read.specs };
  }
  // The table fills every field of Config (settings.ts checks that when it compiles).
  return deepFreeze(config as unknown as Config);
}

/** Where a setting goes in Config: a field, and the field inside it when that is a section. */
function placeOf(setting: Setting): [keyof Config, string | undefined] {
  return setting.at.split('.') as [keyof Config, string | undefined];
}

/** The problems of settings that parsed alone but not together. */
function crossChecks(p: Partial<Values>, env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  if (
    p.UPDATER_MIN_WORKERS !== undefined &&
    p.UPDATER_MAX_WORKERS !== undefined &&
    p.UPDATER_MIN_WORKERS > p.UPDATER_MAX_WORKERS
  ) {
    const max = env.UPDATER_MAX_WORKERS ? `${p.UPDATER_MAX_WORKERS}` : `${p.UPDATER_MAX_WORKERS}, its default: the number of cores`;
    problems.push(`UPDATER_MIN_WORKERS=${p.UPDATER_MIN_WORKERS} is not allowed: expected at most UPDATER_MAX_WORKERS (${max})`);
  }
  if (p.ENTRY_TTL_MIN_SECONDS !== undefined && p.ENTRY_TTL_MAX_SECONDS !== undefined && p.ENTRY_TTL_MIN_SECONDS > p.ENTRY_TTL_MAX_SECONDS) {
    problems.push(
      `ENTRY_TTL_MIN_SECONDS=${p.ENTRY_TTL_MIN_SECONDS} is not allowed: expected at most ENTRY_TTL_MAX_SECONDS (${p.ENTRY_TTL_MAX_SECONDS})`,
    );
  }
  if (
    p.UPSTREAM_BREAKER_COOL_OFF_SECONDS !== undefined &&
    p.UPSTREAM_BREAKER_MAX_COOL_OFF_SECONDS !== undefined &&
    p.UPSTREAM_BREAKER_COOL_OFF_SECONDS > p.UPSTREAM_BREAKER_MAX_COOL_OFF_SECONDS
  ) {
    problems.push(
      `UPSTREAM_BREAKER_COOL_OFF_SECONDS=${p.UPSTREAM_BREAKER_COOL_OFF_SECONDS} is not allowed: expected at most UPSTREAM_BREAKER_MAX_COOL_OFF_SECONDS (${p.UPSTREAM_BREAKER_MAX_COOL_OFF_SECONDS})`,
    );
  }
  const schemaProblem = p.UPSTREAM_SCHEMA === undefined ? undefined : checkSchemaFile(p.UPSTREAM_SCHEMA);
  if (schemaProblem) {
    problems.push(
      `UPSTREAM_SCHEMA=${JSON.stringify(p.UPSTREAM_SCHEMA)} is not allowed: expected ${SETTINGS.UPSTREAM_SCHEMA.allowed} (${schemaProblem})`,
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
  if (p.UPSTREAM_MAX_BYTES !== undefined && p.UPDATER_TASKS_PER_WORKER !== undefined) {
    // Every refresh a worker runs at once may hold a record of the largest size.
    const most = mostRecordBytes(p.UPDATER_TASKS_PER_WORKER);
    if (p.UPSTREAM_MAX_BYTES > most) {
      problems.push(
        `UPSTREAM_MAX_BYTES=${p.UPSTREAM_MAX_BYTES} is not allowed: expected at most ${most}, what a worker's ${WORKER_HEAP_MB} MiB heap holds for UPDATER_TASKS_PER_WORKER (${p.UPDATER_TASKS_PER_WORKER}) records at once`,
      );
    }
  }
  if (p.SMTP_URL !== undefined && p.SMTP_TIMEOUT_SECONDS !== undefined) {
    // A claim renewed before a send must outlast it: connecting, the greeting
    // and the transfer may each wait out the timeout. Else the claim expires
    // mid-send and another mailer sends the message again.
    if (p.MAIL_CLAIM_SECONDS !== undefined && p.MAIL_CLAIM_SECONDS <= 3 * p.SMTP_TIMEOUT_SECONDS) {
      problems.push(
        `MAIL_CLAIM_SECONDS=${p.MAIL_CLAIM_SECONDS} is not allowed: expected more than 3 × SMTP_TIMEOUT_SECONDS (${3 * p.SMTP_TIMEOUT_SECONDS}), the longest a send may take`,
      );
    }
    // On SIGTERM a mailer has the second half of the shutdown to finish the message in hand.
    if (p.SHUTDOWN_TIMEOUT_SECONDS !== undefined && p.SHUTDOWN_TIMEOUT_SECONDS < 2 * p.SMTP_TIMEOUT_SECONDS) {
      problems.push(
        `SHUTDOWN_TIMEOUT_SECONDS=${p.SHUTDOWN_TIMEOUT_SECONDS} is not allowed: expected at least 2 × SMTP_TIMEOUT_SECONDS (${2 * p.SMTP_TIMEOUT_SECONDS}), so a stopping mailer can finish the message in hand`,
      );
    }
  }
  return problems;
}

// A problem line goes to stderr and the logs: it must not repeat a secret.
function shown(setting: Setting, raw: string | undefined): string {
  if (raw === undefined) return '(unset)';
  if (setting.secret === 'value') return `(${raw.length} characters, not shown)`;
  if (setting.secret === 'url') return JSON.stringify(maskUrl(raw));
  return JSON.stringify(raw);
}

/** The settings as an operator reads them: every variable, in the table's order, secrets masked. */
export function describeConfig(config: Config): Record<SettingName, string | number> {
  const described = SETTING_ROWS.map(([name, setting]) => {
    const [field, inner] = placeOf(setting);
    const value = inner === undefined ? config[field] : (config[field] as Record<string, unknown>)[inner];
    return [name, describe(setting, setting.show(value as never))] as const;
  });
  return Object.fromEntries(described) as Record<SettingName, string | number>;
}

function describe(setting: Setting, value: Shown): string | number {
  if (value === undefined || value === '') return `(${setting.unset ?? 'unset'})`;
  if (setting.secret === 'value') return '********';
  if (setting.secret === 'url') return maskUrl(String(value));
  return value;
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
