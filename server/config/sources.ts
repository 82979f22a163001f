// The upstreams one freshen serves. Without SOURCES_FILE the env vars describe
// one, `entries` at /entries. With it, the file lists the sources: each a name,
// a path, and any per-upstream setting (its upstream URL, schema, TTLs,
// timeouts, caps, breaker, content team, webhook secret); what a source does
// not set comes from the env vars. Each field is parsed by the settings
// table's own row for it, so a source's bounds are the variable's.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { mostRecordBytes } from '../../workers/protocol.js';
import { DEFAULT_SOURCE } from '../../shared/sources.js';
import { maskUrl } from '../../shared/mask-url.js';
import type { Config } from './config.js';
import { SETTINGS, type SettingName } from './settings.js';
import { checkSchemaFile } from './values.js';

/** A source's fields and the setting each is parsed as (and defaults to). */
export const SOURCE_FIELDS = {
  upstreamUrl: 'UPSTREAM_URL',
  schema: 'UPSTREAM_SCHEMA',
  timeoutMs: 'UPSTREAM_TIMEOUT_MS',
  maxBytes: 'UPSTREAM_MAX_BYTES',
  cacheControl: 'UPSTREAM_CACHE_CONTROL',
  maxConcurrency: 'UPSTREAM_MAX_CONCURRENCY',
  maxRps: 'UPSTREAM_MAX_RPS',
  breakerFailurePercent: 'UPSTREAM_BREAKER_FAILURE_PERCENT',
  breakerMinAttempts: 'UPSTREAM_BREAKER_MIN_ATTEMPTS',
  breakerWindowSeconds: 'UPSTREAM_BREAKER_WINDOW_SECONDS',
  breakerCoolOffSeconds: 'UPSTREAM_BREAKER_COOL_OFF_SECONDS',
  breakerMaxCoolOffSeconds: 'UPSTREAM_BREAKER_MAX_COOL_OFF_SECONDS',
  ttlSeconds: 'ENTRY_TTL_SECONDS',
  ttlMinSeconds: 'ENTRY_TTL_MIN_SECONDS',
  ttlMaxSeconds: 'ENTRY_TTL_MAX_SECONDS',
  refreshAhead: 'ENTRY_REFRESH_AHEAD',
  notFoundTtlSeconds: 'ENTRY_NOT_FOUND_TTL_SECONDS',
  maxStaleSeconds: 'ENTRY_MAX_STALE_SECONDS',
  backoffMaxSeconds: 'REFRESH_BACKOFF_MAX_SECONDS',
  memoryMaxBytes: 'MEMORY_TIER_MAX_BYTES',
  contentTeam: 'CONTENT_TEAM',
} as const satisfies Record<string, SettingName>;

type Field = keyof typeof SOURCE_FIELDS;

/** A source as the file gives it: what it sets over the env vars, in Config's terms. */
export interface SourceSpec {
  readonly name: string;
  readonly path: string;
  /** Config section → field → value, for the fields the source sets. */
  readonly sets: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The value of its webhookSecretEnv (for `entries`: WEBHOOK_SECRET unless it names another). */
  readonly webhookSecret: string | undefined;
}

export interface SourcesFile {
  /** The file's absolute path. */
  readonly file: string;
  readonly specs: readonly SourceSpec[];
}

/** A source as the server runs it: its whole config, the env's with its own fields over it. */
export interface Source {
  readonly name: string;
  /** Where its entries are served: /entries, /products. */
  readonly path: string;
  /** Where its published pages are served: /pages for `entries`, /pages/<name> for the others. */
  readonly pagesPath: string;
  readonly config: Config;
}

export const SOURCE_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const SOURCE_PATH = /^\/[a-z0-9][a-z0-9_-]{0,63}$/;
// The server's own first path segments; and the directories of the default source's index under PUBLISH_DIR.
const RESERVED_PATHS = new Set(['/admin', '/hooks', '/pages', '/healthz', '/readyz', '/metrics', '/openapi.json']);
const RESERVED_NAMES = new Set(['index', 'sitemaps']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const SECRET = /^[\x21-\x7e]{32,}$/;
const KNOWN = ['name', 'path', 'webhookSecretEnv', ...Object.keys(SOURCE_FIELDS)];

/** The sources a config serves, each with its config. */
export function sourcesOf(config: Config): Source[] {
  if (config.sources === undefined) return [{ name: DEFAULT_SOURCE, path: '/entries', pagesPath: '/pages', config }];
  const { specs } = config.sources;
  // MEMORY_TIER_MAX_BYTES is the process's: what the sources that set their own leave, the others share evenly.
  const set = specs.map((spec) => spec.sets.entries?.memoryMaxBytes as number | undefined);
  const left = config.entries.memoryMaxBytes - set.reduce((n: number, bytes) => n + (bytes ?? 0), 0);
  const share = Math.floor(Math.max(0, left) / Math.max(1, set.filter((bytes) => bytes === undefined).length));
  return specs.map((spec) => {
    const own = spec.name === DEFAULT_SOURCE;
    const merged: Record<string, unknown> = { ...config, webhookSecret: spec.webhookSecret };
    merged.entries = { ...config.entries, memoryMaxBytes: share };
    for (const [section, fields] of Object.entries(spec.sets)) {
      merged[section] = { ...(merged[section] as object), ...fields };
    }
    // Pages of the default source stay where they were; another's go in a directory of its name.
    merged.publish = { ...config.publish, dir: own ? config.publish.dir : join(config.publish.dir, spec.name) };
    return { name: spec.name, path: spec.path, pagesPath: own ? '/pages' : `/pages/${spec.name}`, config: Object.freeze(merged) as unknown as Config };
  });
}

/**
 * Reads and checks SOURCES_FILE against the config the env gave: the specs, or
 * one line per problem, each naming the source and the field.
 */
export function readSourcesFile(file: string, config: Config, env: NodeJS.ProcessEnv): { specs: SourceSpec[] } | { problems: string[] } {
  const at = `SOURCES_FILE (${file})`;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message.split('\n')[0];
    return { problems: [`${at}: cannot be read as JSON: ${why}`] };
  }
  const list = (raw as { sources?: unknown } | null)?.sources;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Array.isArray(list)) {
    return { problems: [`${at}: expected {"sources": [ … ]}, an object with a list of sources`] };
  }
  const problems: string[] = [];
  for (const key of Object.keys(raw)) if (key !== 'sources') problems.push(`${at}: unknown field "${key}"; the file has only "sources"`);
  if (list.length === 0) problems.push(`${at}: "sources" is empty; name at least one`);
  const specs: SourceSpec[] = [];
  const names = new Set<string>();
  const paths = new Set<string>();
  for (const [i, item] of list.entries()) {
    const where = (name?: string) => `${at}: sources[${i}]${name === undefined ? '' : ` "${name}"`}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${where()}: expected an object with at least "name"`);
      continue;
    }
    const source = item as Record<string, unknown>;
    const name = typeof source.name === 'string' && SOURCE_NAME.test(source.name) ? source.name : undefined;
    const here = where(name);
    if (name === undefined) {
      problems.push(`${here}: name=${shown(source.name)} is not allowed: expected 1 to 40 lower-case letters, digits or "-", starting with a letter`);
    } else if (RESERVED_NAMES.has(name)) {
      problems.push(`${here}: name="${name}" is not allowed: "index" and "sitemaps" are the page index's own directories`);
    } else if (names.has(name)) {
      problems.push(`${here}: name="${name}" is not allowed: another source has it`);
    } else names.add(name);
    for (const key of Object.keys(source)) {
      if (!KNOWN.includes(key)) problems.push(`${here}: unknown field "${key}"; a source may set ${KNOWN.join(', ')}`);
    }
    // With no path given, the name makes it (a bad name has its own line already).
    const path = 'path' in source ? source.path : name === undefined ? undefined : `/${name}`;
    if (typeof path === 'string' && SOURCE_PATH.test(path)) {
      if (RESERVED_PATHS.has(path)) problems.push(`${here}: path="${path}" is not allowed: the server's own ${path} is there`);
      else if (paths.has(path)) problems.push(`${here}: path="${path}" is not allowed: another source is served there`);
      else paths.add(path);
    } else if (path !== undefined) {
      problems.push(`${here}: path=${shown(path)} is not allowed: expected "/" and 1 to 64 lower-case letters, digits, "_" or "-"`);
    }

    const sets: Record<string, Record<string, unknown>> = {};
    const value = (field: Field): unknown => {
      const setting = SETTINGS[SOURCE_FIELDS[field]];
      const [section, inner] = setting.at.split('.') as [string, string];
      return sets[section]?.[inner] ?? (config[section as keyof Config] as Record<string, unknown>)[inner];
    };
    for (const field of Object.keys(SOURCE_FIELDS) as Field[]) {
      const given = source[field];
      if (given === undefined) continue;
      const parsed = parseField(field, given, dirname(file));
      if ('problem' in parsed) {
        // An upstream URL may carry credentials: the line shows it masked.
        const what = field === 'upstreamUrl' && typeof given === 'string' ? JSON.stringify(maskUrl(given)) : shown(given);
        problems.push(`${here}: ${field}=${what} is not allowed: expected ${parsed.problem}`);
        continue;
      }
      const [section, inner] = SETTINGS[SOURCE_FIELDS[field]].at.split('.') as [string, string];
      (sets[section] ??= {})[inner] = parsed.value;
    }
    // The checks the env vars get together, on the source's values over them.
    const ms = (field: Field) => value(field) as number;
    if (source.schema !== undefined && typeof value('schema') === 'string') {
      const why = checkSchemaFile(value('schema') as string);
      if (why) problems.push(`${here}: schema=${shown(source.schema)} is not allowed: expected the path (from the file's directory) of a readable JSON Schema file (${why})`);
    }
    if (ms('ttlMinSeconds') > ms('ttlMaxSeconds')) problems.push(`${here}: ttlMinSeconds is not allowed: expected at most ttlMaxSeconds (${ms('ttlMaxSeconds') / 1000})`);
    if (ms('breakerCoolOffSeconds') > ms('breakerMaxCoolOffSeconds')) {
      problems.push(`${here}: breakerCoolOffSeconds is not allowed: expected at most breakerMaxCoolOffSeconds (${ms('breakerMaxCoolOffSeconds') / 1000})`);
    }
    if (ms('timeoutMs') >= config.updater.taskTimeoutMs) {
      problems.push(`${here}: timeoutMs=${ms('timeoutMs')} is not allowed: expected less than UPDATER_TASK_TIMEOUT_MS (${config.updater.taskTimeoutMs})`);
    }
    const most = mostRecordBytes(config.updater.tasksPerWorker);
    if (ms('maxBytes') > most) problems.push(`${here}: maxBytes=${ms('maxBytes')} is not allowed: expected at most ${most}, what a worker's heap holds for UPDATER_TASKS_PER_WORKER records at once`);

    let webhookSecret = name === DEFAULT_SOURCE ? config.webhookSecret : undefined;
    if (source.webhookSecretEnv !== undefined) {
      const variable = source.webhookSecretEnv;
      const secret = typeof variable === 'string' && ENV_NAME.test(variable) ? env[variable] : undefined;
      if (typeof variable !== 'string' || !ENV_NAME.test(variable)) {
        problems.push(`${here}: webhookSecretEnv=${shown(variable)} is not allowed: expected the name of an environment variable`);
      } else if (secret === undefined || secret === '') {
        problems.push(`${here}: webhookSecretEnv="${variable}" is not allowed: expected a variable that is set, and ${variable} is unset`);
      } else if (!SECRET.test(secret)) {
        problems.push(`${here}: webhookSecretEnv="${variable}" is not allowed: ${variable} (${secret.length} characters, not shown) must be at least 32 characters, none of them spaces`);
      } else webhookSecret = secret;
    }
    // A call signed for one source must not be taken by another: the signature does not name the source.
    const sharing = specs.find((other) => webhookSecret !== undefined && other.webhookSecret === webhookSecret);
    if (sharing !== undefined) {
      problems.push(`${here}: its webhook secret is not allowed: source "${sharing.name}" has the same one, and a call signed for either would be taken by both`);
    }
    if (name !== undefined && typeof path === 'string') specs.push({ name, path, sets, webhookSecret });
  }
  const ownMemory = specs.reduce((n, spec) => n + ((spec.sets.entries?.memoryMaxBytes as number | undefined) ?? 0), 0);
  if (ownMemory > config.entries.memoryMaxBytes) {
    problems.push(`${at}: the sources' memoryMaxBytes add up to ${ownMemory}, more than MEMORY_TIER_MAX_BYTES (${config.entries.memoryMaxBytes}), the process's whole memory tier`);
  }
  return problems.length > 0 ? { problems } : { specs };
}

function parseField(field: Field, given: unknown, base: string): { value: unknown } | { problem: string } {
  const setting = SETTINGS[SOURCE_FIELDS[field]];
  let raw: string | undefined;
  if (field === 'contentTeam') raw = Array.isArray(given) && given.every((a) => typeof a === 'string') ? given.join(',') : undefined;
  else if (typeof given === 'number' || (typeof given === 'string' && given !== '')) raw = String(given);
  if (field === 'schema' && raw !== undefined) raw = resolve(base, raw);
  const allowed = field === 'contentTeam' ? 'a list of e-mail addresses' : setting.allowed;
  if (raw === undefined) return { problem: allowed };
  const parsed = setting.schema.safeParse(raw);
  return parsed.success ? { value: (setting.toConfig as (v: unknown) => unknown)(parsed.data) } : { problem: allowed };
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
